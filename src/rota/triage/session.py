"""What one probe may use: :class:`Session` opens targets from the app's registry, read
only, keeps triage's baselines in the history, and can stop what its targets are doing."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rota.errors import TargetUnavailable
from rota.targets import TargetRequest

if TYPE_CHECKING:
    from rota.app import App
    from rota.config import Config
    from rota.history import History

# Under the task's 10-second promise, with room to score and record.
DEADLINE_S = 8.0
TIMEOUTS = {"database": 6.0, "service": 5.0, "process": 5.0, "logs": 6.0, "host": 3.0}
STATE_ID = "triage"  # the history state namespace of triage's baselines
LABEL = "rota:triage"  # who opens the targets (PostgreSQL's application_name)
TOP = 5  # statements, routes and error groups kept per snapshot


class NotConfigured(Exception):
    """The probe's section of the config is not set: the probe is skipped, not unknown."""


@dataclass(frozen=True)
class Options:
    """What a triage looks for, and how long it may look."""

    slow_query_s: float = 1.0  # an active statement running longer is a suspect
    idle_in_transaction_s: float = 30.0  # a session idle in a transaction longer is one too
    log_window_s: float = 900.0  # logs: error groups and latency of the last 15 minutes
    deadline_s: float = DEADLINE_S
    timeouts: dict[str, float] = field(default_factory=lambda: dict(TIMEOUTS))


class Session:
    """One probe's access to the platform, its baselines, and the targets it opened (which
    are cancelled if it runs out of time)."""

    def __init__(
        self, app: App, config: Config, history: History | None, options: Options, name: str
    ) -> None:
        self.app = app
        self.config = config
        self.history = history
        self.options = options
        self.name = name
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    @property
    def budget(self) -> float:
        """Seconds this probe may take."""
        return min(self.options.timeouts.get(self.name, 5.0), self.options.deadline_s)

    def open(self, kind: str) -> Any:
        """Target ``kind`` from the app's registry, read-only, as ``rota:triage``."""
        if kind not in self.app.targets:
            raise TargetUnavailable(
                f"no target kind {kind!r} is registered (known: "
                f"{', '.join(self.app.targets.names())})"
            )
        spec = self.app.targets.get(kind)
        why = spec.configured(self.config)
        if why:
            raise NotConfigured(why)
        adapter = spec.open(TargetRequest(self.config, readonly=True, label=LABEL))
        with self._lock:
            self._opened.append(adapter)
        return adapter

    def load(self, key: str) -> Any:
        """A baseline an earlier triage kept (None: none yet, or no history)."""
        return self.history.get_state(STATE_ID, key) if self.history is not None else None

    def save(self, key: str, value: Any) -> None:
        """Keep a baseline for the next triage: rota's own state, never the target's."""
        if self.history is not None:
            self.history.set_state(STATE_ID, key, value)

    def cancel(self) -> None:
        """Stop what the probe's targets are doing (a PostgreSQL query is cancelled)."""
        for adapter in self._targets():
            _call(adapter, "cancel")

    def close(self) -> None:
        for adapter in self._targets():
            _call(adapter, "close")
        with self._lock:
            self._opened.clear()

    def _targets(self) -> list[Any]:
        with self._lock:
            return list(self._opened)


def _call(adapter: Any, method: str) -> None:
    fn = getattr(adapter, method, None)
    if callable(fn):
        try:
            fn()
        except Exception:  # best effort: one target's cleanup must not stop the others'
            pass
