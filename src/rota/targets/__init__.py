"""Targets: thin adapters over the real clients a task needs.

Tasks reach PostgreSQL, HTTP services, files and processes only through these, so each
adapter is written and tested once against the real thing. In check mode every target is
opened read-only: the PostgreSQL session has ``default_transaction_read_only`` set and the
HTTP client refuses methods other than GET and HEAD, so a task cannot mutate by mistake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rota.errors import TargetUnavailable

if TYPE_CHECKING:
    from rota.task import Context


def open_target(kind: str, ctx: Context) -> Any:
    cfg = ctx.config
    if kind == "postgres":
        from rota.targets.postgres import Postgres

        if not cfg.database.url:
            raise TargetUnavailable("[database] url is not set")
        pg = Postgres(
            cfg.database.url,
            readonly=not ctx.apply,
            connect_timeout=cfg.database.connect_timeout,
            statement_timeout=cfg.database.statement_timeout,
            lock_timeout=cfg.database.lock_timeout,
            application_name=f"rota:{ctx.task.id}",
        )
        ctx.on_cancel(pg.cancel)
        return pg
    if kind == "http":
        from rota.targets.http import Http

        if not cfg.http.base_url:
            raise TargetUnavailable("[http] base_url is not set")
        return Http(
            cfg.http.base_url,
            readonly=not ctx.apply,
            ca_file=cfg.http.ca_file,
            timeout=cfg.http.timeout,
        )
    if kind == "pgtools":
        from rota.targets.pgtools import PgTools

        tools = PgTools(cfg.backups.bindir)
        ctx.on_cancel(tools.cancel)
        return tools
    if kind == "files":
        from rota.targets.files import Files

        if not cfg.logs.paths:
            raise TargetUnavailable("[logs] paths is not set")
        return Files(cfg.logs.paths, readonly=not ctx.apply)
    raise TargetUnavailable(f"no target of kind {kind!r}")
