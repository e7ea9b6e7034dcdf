"""The sandbox platform's traffic: the queries it runs and the connections it leaves idle.

A database cloned from the sandbox template inherits its files but not what lives in server
memory per database (pg_stat_statements, the cumulative statistics): :func:`plant_runtime_faults`
runs the platform's usual queries again, so the slow statement, the unused index and the
dead tuples show. :func:`idle_connection` holds a session idle in transaction, as a worker
that forgot to commit does.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from rota.errors import SandboxError

__all__ = ["SLOW_CALLS", "IdleConnections", "idle_connection", "plant_runtime_faults"]

SLOW_CALLS = 25

# The platform's queries, as (query, number of calls). Those that rely on the missing index
# or scan by design run as they would in production; the others run with seq scans
# disabled so that every declared index is used even in a tiny test database, which
# leaves the planted unused index as the only one with idx_scan = 0.
SLOW_QUERIES: list[tuple[str, int]] = [
    (
        "SELECT id, role, content, created_at FROM messages "
        "WHERE conversation_id = %(conversation)s ORDER BY created_at",
        SLOW_CALLS,
    ),
    ("SELECT count(*) FROM messages WHERE content ILIKE %(pattern)s", 2),
    (
        "SELECT c.user_id, count(*) FROM messages m JOIN conversations c "
        "ON c.id = m.conversation_id WHERE m.created_at > now() - interval '7 days' "
        "GROUP BY c.user_id ORDER BY 2 DESC LIMIT 10",
        2,
    ),
]
# Query parameters are drawn from these (placeholder, column, table).
SAMPLED_VALUES = [
    ("conversation", "id", "conversations"), ("public_id", "public_id", "conversations"),
    ("user", "id", "users"), ("email", "email", "users"), ("session", "token_hash", "sessions"),
    ("key", "key_hash", "api_keys"),
    ("message", "id", "messages"), ("version", "version", "schema_migrations"),
]  # fmt: skip
INDEXED_QUERIES: list[tuple[str, int]] = [
    (
        "SELECT id, title, updated_at FROM conversations WHERE user_id = %(user)s "
        "ORDER BY updated_at DESC LIMIT 20",
        40,
    ),
    ("SELECT id, title FROM conversations WHERE public_id = %(public_id)s", 40),
    ("SELECT id, display_name FROM users WHERE email = %(email)s", 40),
    ("SELECT id, email FROM users WHERE id = %(user)s", 20),
    ("SELECT count(*) FROM users WHERE created_at > now() - interval '7 days'", 3),
    ("SELECT user_id FROM sessions WHERE token_hash = %(session)s", 40),
    ("SELECT id, expires_at FROM sessions WHERE user_id = %(user)s", 10),
    (
        "SELECT count(*) FROM sessions WHERE expires_at BETWEEN now() "
        "AND now() + interval '1 hour'",
        3,
    ),
    ("SELECT user_id, scopes FROM api_keys WHERE key_hash = %(key)s AND revoked_at IS NULL", 20),
    ("SELECT id, name, prefix FROM api_keys WHERE user_id = %(user)s", 10),
    ("SELECT count(*) FROM messages WHERE user_id = %(user)s", 10),
    ("SELECT id, content FROM messages WHERE id = %(message)s", 10),
    ("SELECT count(*) FROM audit_log WHERE created_at > now() - interval '1 day'", 3),
    ("SELECT action, created_at FROM audit_log WHERE actor_user_id = %(user)s", 10),
    ("SELECT max(id) FROM audit_log", 2),
    ("SELECT id, user_id FROM conversations WHERE id = %(conversation)s", 10),
    ("SELECT name FROM schema_migrations WHERE version = %(version)s", 2),
]


def plant_runtime_faults(url: str, seed: int = 42) -> None:
    """Recreate the per-database runtime state a template clone does not inherit.

    Clears this database's pg_stat_statements entries (the loader's own statements), runs
    the platform's usual queries (every declared index gets scans, the unused one none, the
    messages-by-conversation query seq-scans for want of its index and is recorded as the
    slowest statement) and ANALYZEs the churned tables so that
    ``pg_stat_user_tables.n_dead_tup`` shows their dead tuples again.
    """
    import psycopg

    rng = random.Random(seed)
    with psycopg.connect(url, autocommit=True, application_name="rylie-api") as conn:
        conn.execute("ANALYZE conversations, messages")
        conn.execute(
            "SELECT pg_stat_statements_reset(0, "
            "(SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
        )
        samples: dict[str, list[Any]] = {}
        for key, column, table in SAMPLED_VALUES:
            query = f"SELECT {column} FROM {table} ORDER BY 1 LIMIT 2000"
            samples[key] = [row[0] for row in conn.execute(query)]
        if not samples["conversation"] or not samples["user"]:
            raise SandboxError("the platform tables are empty; load the dataset first")
        samples["pattern"] = ["%memory%", "%CORS%"]

        def args(query: str) -> dict[str, Any]:
            return {k: rng.choice(v or [None]) for k, v in samples.items() if f"%({k})s" in query}

        for query, calls in SLOW_QUERIES:
            for _ in range(calls):
                conn.execute(query, args(query)).fetchall()
    # A startup option rather than SET, so the setting itself is not a recorded statement.
    with psycopg.connect(
        url, autocommit=True, application_name="rylie-api", options="-c enable_seqscan=off"
    ) as conn:
        for query, calls in INDEXED_QUERIES:
            for _ in range(calls):
                conn.execute(query, args(query)).fetchall()


# --- idle connections -----------------------------------------------------------------------

# Runs in a child process so the sessions can outlive the caller (the CLI exits after
# `rota sandbox up`); it needs nothing but psycopg. argv[3] is a label only, so that
# whoever started it can recognise the process by its command line.
_IDLE_SCRIPT = """
import json, os, sys, time, psycopg
url, seconds = sys.argv[1], float(sys.argv[2])
in_tx = psycopg.connect(url, application_name="rylie-worker")
in_tx.execute("SELECT count(*) FROM users").fetchone()  # opens a transaction, keeps it open
idle = psycopg.connect(url, autocommit=True, application_name="rylie-api")
idle.execute("SELECT 1").fetchone()
print(json.dumps([in_tx.info.backend_pid, idle.info.backend_pid]), flush=True)
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 1)
os.dup2(null, 2)
deadline = time.monotonic() + seconds if seconds > 0 else float("inf")
while time.monotonic() < deadline:
    time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
"""


@dataclass
class IdleConnections:
    """Two sessions held open by a helper process: one idle in transaction, one idle.

    ``pid`` is the helper process; ``backend_pids`` the server sessions, the one idle in
    transaction first. ``close()`` ends both. ``IdleConnections(pid)`` made in another
    process can close them too.
    """

    pid: int
    backend_pids: list[int] = field(default_factory=list)
    _proc: subprocess.Popen[str] | None = field(default=None, repr=False, compare=False)

    def close(self, timeout: float = 5) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)

    def __enter__(self) -> IdleConnections:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def idle_connection(
    url: str, seconds: float | None = None, *, detached: bool = False, label: str = ""
) -> IdleConnections:
    """Open a session idle in transaction and a plain idle session on ``url``.

    They are held by a helper process for ``seconds`` (None: until ``close()``); returns
    once both are established. ``detached`` puts the helper in its own session so it
    survives the caller and its terminal. ``label`` is added to the helper's command line
    (e.g. the sandbox directory) so it can be identified later.
    """
    argv = [sys.executable, "-c", _IDLE_SCRIPT, url, str(seconds or 0), label]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=detached,
    )
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    try:
        backend_pids = [int(p) for p in json.loads(line)]
    except ValueError:
        proc.wait(10)
        errors = [s for s in proc.stderr.read().splitlines() if s.strip()]
        raise SandboxError(
            f"could not open idle connections: {errors[-1] if errors else 'no output'}"
        ) from None
    finally:
        proc.stdout.close()
        proc.stderr.close()
    return IdleConnections(pid=proc.pid, backend_pids=backend_pids, _proc=proc)
