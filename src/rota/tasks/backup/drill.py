"""The state of one ``backup.verify`` run (its receipt) and finding helpers."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rota.model import Finding, Severity
from rota.targets.pgtools import PgTools
from rota.targets.postgres import Postgres
from rota.task import Context


class Drill:
    """One verification: the phases' numbers, gathered into the receipt at the end."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cfg = ctx.config.backups
        self.now = datetime.now(UTC)
        self.receipt: dict[str, Any] = {"phases_s": {}}
        self.findings: list[Finding] = []
        live_url = ctx.config.database.url or ""
        self.live_url = live_url
        self.server_url = self.cfg.restore_url or live_url
        db = ctx.config.database
        self.live = Postgres(
            live_url,
            readonly=True,  # never writes to the live database, in either mode
            connect_timeout=db.connect_timeout,
            statement_timeout=max(db.statement_timeout, 600),
            lock_timeout=db.lock_timeout,
            application_name="rota:backup.verify",
        )
        self.admin = Postgres(
            self.server_url,
            readonly=False,
            connect_timeout=db.connect_timeout,
            statement_timeout=max(db.statement_timeout, 600),
            lock_timeout=db.lock_timeout,
            application_name="rota:backup.verify",
        )
        ctx.on_cancel(self.live.cancel)
        ctx.on_cancel(self.admin.cancel)
        self.tools: PgTools = ctx.target("pgtools")
        self.temp_dir = Path(self.cfg.temp_dir or tempfile.gettempdir())

    def close(self) -> None:
        self.live.close()
        self.admin.close()

    def phase(self, name: str, t0: float) -> None:
        self.receipt["phases_s"][name] = round(time.monotonic() - t0, 3)


def finding(
    d: Drill,
    code: str,
    sev: Severity,
    message: str,
    subject: str = "",
    evidence: dict[str, Any] | None = None,
    remedy: str = "",
) -> Finding:
    f = Finding(code, sev, message, subject, evidence or {}, remedy)
    d.findings.append(f)
    return f


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
