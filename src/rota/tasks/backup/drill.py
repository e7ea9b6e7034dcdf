"""The state of one ``backup.verify`` run: its sessions, tools and receipt."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rota.model import Finding
from rota.task import Context


class Drill:
    """One verification: the phases' numbers, gathered into the receipt at the end."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cfg = ctx.config.backups
        self.now = datetime.now(UTC)
        self.receipt: dict[str, Any] = {"phases_s": {}}
        self.findings: list[Finding] = []  # every finding reported so far, for the receipt
        pg = ctx.target("postgres")
        # Counts and restores outlast the usual statement_timeout.
        self.live = pg.sibling(
            readonly=True,  # never writes to the live database, in either mode
            statement_timeout=max(pg.statement_timeout, 600),
        )
        # The scratch databases' server: live's, unless [backups] restore_url names another.
        self.admin = self.live.sibling(url=self.cfg.restore_url or None, readonly=False)
        ctx.on_cancel(self.live.cancel)
        ctx.on_cancel(self.admin.cancel)
        self.tools = ctx.target("pgtools")
        self.temp_dir = Path(self.cfg.temp_dir or tempfile.gettempdir())
        # Every session in the scratch database carries this application_name, so another
        # run's sweep can tell a database in use from one left by a crashed run.
        self.owner = owner_tag()

    @property
    def restores_on_live(self) -> bool:
        """Whether the scratch database is made on the live database's server."""
        return self.admin.url == self.live.url

    def close(self) -> None:
        self.live.close()
        self.admin.close()

    def phase(self, name: str, t0: float) -> None:
        self.receipt["phases_s"][name] = round(time.monotonic() - t0, 3)


def owner_tag(host: str | None = None, pid: int | None = None) -> str:
    """``rota-verify:<host>:<pid>`` (within PostgreSQL's 63 characters of application_name)."""
    host = (host or socket.gethostname())[:40].replace(":", "_")
    return f"{OWNER_PREFIX}{host}:{pid or os.getpid()}"


def parse_owner(application_name: str | None) -> tuple[str, int] | None:
    """``(host, pid)`` of an :func:`owner_tag`, or None for any other name."""
    if not application_name or not application_name.startswith(OWNER_PREFIX):
        return None
    host, _, pid = application_name[len(OWNER_PREFIX) :].rpartition(":")
    return (host, int(pid)) if host and pid.isdigit() else None


OWNER_PREFIX = "rota-verify:"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
