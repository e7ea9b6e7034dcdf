"""Run maintenance statements without ever queueing application traffic behind them.

A statement that asks for a lock stronger than ACCESS SHARE joins the lock queue, and
every later query on that table waits behind it (even one that would not conflict with
the current holder). So each such statement runs under a short ``lock_timeout``: if the
lock is not granted in time the statement gives up, the queue drains, and rota tries
again after a back-off (1 s, 2 s, 4 s by default). After the last attempt it gives up
for good and the caller reports ``db.lock.timeout``.

VACUUM and ``... CONCURRENTLY`` cannot run inside a transaction block, so the timeouts
are set for the session around the statement and reset afterwards (``RESET`` returns
to the connection's startup values), rather than with ``SET LOCAL``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rota.frequency import Window
from rota.model import Finding, Severity, Step
from rota.tasks.common import finding

if TYPE_CHECKING:
    from collections.abc import Iterator

    from psycopg import sql as _sql

    from rota.targets.postgres import Postgres
    from rota.task import Context

    Statement = str | _sql.Composable


class LockNotGranted(Exception):
    """Every attempt timed out waiting for its lock; nothing was changed."""

    def __init__(self, statement: str, attempts: int, waited_s: float, detail: str) -> None:
        super().__init__(f"lock not granted after {attempts} attempts ({waited_s:.1f}s): {detail}")
        self.statement = statement
        self.attempts = attempts
        self.waited_s = waited_s
        self.detail = detail


@dataclass(frozen=True)
class LockPolicy:
    """How long to wait for a lock, how often to try, and how long a statement may run."""

    lock_timeout: float
    statement_timeout: float
    attempts: int = 3
    delay: float = 1.0

    @classmethod
    def from_context(cls, ctx: Context) -> LockPolicy:
        db = ctx.config.database
        timeout = db.maintenance_timeout
        left = window_seconds_left(ctx)
        if left is not None:
            timeout = max(1.0, min(timeout, left))
        return cls(
            lock_timeout=db.lock_timeout,
            statement_timeout=timeout,
            attempts=db.lock_retries,
            delay=db.lock_retry_delay,
        )

    @property
    def worst_case_wait_s(self) -> float:
        """Longest time rota can spend waiting for one statement's lock, back-offs included."""
        backoff = sum(self.delay * (1 << i) for i in range(self.attempts - 1))
        return self.attempts * self.lock_timeout + backoff


def as_text(pg: Postgres, statement: Statement) -> str:
    if isinstance(statement, str):
        return statement
    return statement.as_string(pg.connect())


def run_locked(
    pg: Postgres,
    statement: Statement,
    policy: LockPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    cancelled: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """Execute ``statement`` under ``policy``; raise :class:`LockNotGranted` when it never gets
    its lock. Returns ``{"attempts": n, "lock_wait_s": seconds spent on failed attempts}``."""
    import psycopg

    text = as_text(pg, statement)
    waited = 0.0
    last = ""
    for attempt in range(1, policy.attempts + 1):
        pg.execute(
            "SELECT set_config('lock_timeout', %s, false), "
            "set_config('statement_timeout', %s, false)",
            (f"{int(policy.lock_timeout * 1000)}ms", f"{int(policy.statement_timeout * 1000)}ms"),
        )
        t0 = time.monotonic()
        try:
            pg.execute(text)
        except psycopg.errors.LockNotAvailable as exc:
            waited += time.monotonic() - t0
            last = str(exc).strip().splitlines()[0]
            if attempt == policy.attempts or cancelled():
                raise LockNotGranted(text, attempt, waited, last) from None
            pause = policy.delay * 2 ** (attempt - 1)
            sleep(pause)
            waited += pause
            continue
        finally:
            pg.execute("RESET lock_timeout; RESET statement_timeout")
        return {"attempts": attempt, "lock_wait_s": round(waited, 3)}
    raise LockNotGranted(text, policy.attempts, waited, last)  # pragma: no cover


def lock_finding(exc: LockNotGranted, subject: str, policy: LockPolicy) -> Finding:
    """``db.lock.timeout``: rota gave up rather than queue traffic behind its lock request."""
    return finding(
        "db.lock.timeout",
        Severity.WARNING,
        f"gave up on {subject}: lock not granted within {policy.lock_timeout:g}s "
        f"in {exc.attempts} attempts",
        subject=subject,
        sql=exc.statement,
        attempts=exc.attempts,
        lock_timeout_s=policy.lock_timeout,
        waited_s=round(exc.waited_s, 3),
        error=exc.detail,
        remedy="Another session holds a conflicting lock: find it with pg_blocking_pids() "
        "(see db.locks.blocking) and run again when it has finished, or in a quieter window.",
    )


def window_seconds_left(ctx: Context, now: datetime | None = None) -> float | None:
    """Seconds until the maintenance window closes; None when no window is configured.

    0 when a window is configured but closed (rota was run with the window ignored)."""
    text = ctx.config.schedule.window
    if not text:
        return None

    now = now or datetime.now(UTC)
    closes = Window.parse(text).closes_at(now)
    if closes is None:
        return 0.0
    return max(0.0, (closes - now).total_seconds())


def locked_action(
    ctx: Context,
    action: str,
    statement: Statement,
    *,
    subject: str,
    reason: str,
    lock: str,
    estimate_s: float | None = None,
    before: Callable[[], dict[str, Any]] | None = None,
    after: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    **detail: Any,
) -> Iterator[Step | Finding]:
    """``ctx.action`` for one lock-taking statement run with :func:`run_locked`.

    ``before`` measures something first (sizes); ``after`` receives that and the attempt
    info, verifies, and returns extra detail (bytes reclaimed) or raises. When the lock is
    never granted this yields the failed step and a ``db.lock.timeout`` finding."""
    pg = ctx.target("postgres")
    policy = LockPolicy.from_context(ctx)
    refused: list[LockNotGranted] = []

    def do() -> dict[str, Any]:
        measured = before() if before else {}
        try:
            info = run_locked(pg, statement, policy, cancelled=ctx.cancelled.is_set)
        except LockNotGranted as exc:
            refused.append(exc)
            raise
        out = {**measured, **info}
        if after:
            out.update(after(out))
        return out

    yield ctx.action(
        action,
        do,
        reason=reason,
        lock=f"{lock}; lock_timeout {policy.lock_timeout:g}s x {policy.attempts} attempts",
        estimate_s=estimate_s,
        sql=as_text(pg, statement),
        **detail,
    )
    if refused:
        yield lock_finding(refused[0], subject, policy)
