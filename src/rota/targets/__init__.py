"""Targets: thin adapters over the real clients a task needs, and the kinds that open them.

Tasks reach PostgreSQL, HTTP services, files and processes only through these, so each
adapter is written and tested once against the real thing. In check mode every target is
opened read-only: the PostgreSQL session has ``default_transaction_read_only`` set and the
HTTP client refuses methods other than GET and HEAD, so a task cannot mutate by mistake.

A :class:`TargetKind` names an adapter (``postgres``), says what config it needs
(``configured``) and opens it from a :class:`TargetRequest`. Kinds live in the app's target
registry, filled from the ``rota.targets`` entry-point group: rota's own kinds are
registered by :func:`register` exactly as a plugin's would be. A task's ``needs`` names
kinds; a need that names no kind fails at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rota.errors import TargetUnavailable

if TYPE_CHECKING:
    from rota.alerts.channels import Channel
    from rota.config import Config
    from rota.registry import Registry
    from rota.security.advisories import Advisories
    from rota.targets.files import Files
    from rota.targets.http import Http
    from rota.targets.npmproject import NpmProject
    from rota.targets.pgtools import PgTools
    from rota.targets.postgres import Postgres
    from rota.targets.process import Processes
    from rota.targets.project import Project


@dataclass(frozen=True)
class TargetRequest:
    """What opening a target may use: the config, the mode, and who is asking."""

    config: Config
    readonly: bool = True
    label: str = "rota"  # who opens it, e.g. the PostgreSQL application_name "rota:db.vacuum"
    # Alert channel types by name, for the ``alerts`` kind (from the app's registry).
    channel_types: Callable[[str], type[Channel]] | None = None


@dataclass(frozen=True)
class TargetKind:
    """One kind of target. ``configured(config)`` is None when the config has what the
    kind needs, else why not ("[database] url is not set"); ``open(request)`` returns the
    adapter, or raises :class:`~rota.errors.TargetUnavailable` with the reason."""

    name: str
    description: str
    open: Callable[[TargetRequest], object]
    configured: Callable[[Config], str | None] = lambda config: None
    source: str = ""


def builtin_kind(name: str) -> TargetKind:
    """rota's own kind ``name`` (an app's registry also holds plugins' kinds)."""
    for kind in BUILTIN:
        if kind.name == name:
            return kind
    raise TargetUnavailable(
        f"no target kind {name!r} (built-in: {', '.join(k.name for k in BUILTIN)})"
    )


def check_kind(kind: TargetKind) -> list[str]:
    problems = []
    if not kind.name or not kind.name.replace("_", "").isalnum() or not kind.name.islower():
        problems.append("name must be one lower-case word, like 'postgres'")
    if not kind.description.strip():
        problems.append("description is empty")
    if not callable(kind.open) or not callable(kind.configured):
        problems.append("open and configured must be callable")
    return problems


# --- rota's own kinds ---------------------------------------------------------------------


def _unset(section: str, key: str) -> Callable[[Config], str | None]:
    def configured(config: Config) -> str | None:
        return None if getattr(getattr(config, section), key) else f"[{section}] {key} is not set"

    return configured


def open_postgres(req: TargetRequest) -> Postgres:
    from rota.targets.postgres import Postgres

    db = req.config.database
    if not db.url:
        raise TargetUnavailable("[database] url is not set")
    return Postgres(
        db.url,
        readonly=req.readonly,
        connect_timeout=db.connect_timeout,
        statement_timeout=db.statement_timeout,
        lock_timeout=db.lock_timeout,
        application_name=req.label,
    )


def open_http(req: TargetRequest) -> Http:
    from rota.targets.http import Http

    http = req.config.http
    if not http.base_url:
        raise TargetUnavailable("[http] base_url is not set")
    return Http(http.base_url, readonly=req.readonly, ca_file=http.ca_file, timeout=http.timeout)


def open_pgtools(req: TargetRequest) -> PgTools:
    from rota.targets.pgtools import PgTools

    return PgTools(req.config.backups.bindir)


def open_files(req: TargetRequest) -> Files:
    from rota.targets.files import Files

    if not req.config.logs.paths:
        raise TargetUnavailable("[logs] paths is not set")
    return Files(req.config.logs.paths, readonly=req.readonly)


def open_backups(req: TargetRequest) -> Files:
    from rota.targets.files import Files

    pattern = req.config.backups.pattern
    if not pattern:
        raise TargetUnavailable("[backups] pattern is not set")
    return Files([pattern], readonly=req.readonly)


def process_configured(config: Config) -> str | None:
    """A [process] section, even an empty one (match then defaults to "node.*server")."""
    if "process" in config.model_fields_set:
        return None
    return "[process] is not set (an empty [process] section watches 'node.*server')"


def open_process(req: TargetRequest) -> Processes:
    from rota.targets.process import Processes

    cfg = req.config.process
    other = cfg.pid_file is not None or cfg.unit is not None or cfg.cgroup is not None
    # Beside pid_file, unit or cgroup, match only filters, and only when written out: its
    # default must not reject a pid file's python service.
    match = cfg.match if not other or "match" in cfg.model_fields_set else None
    return Processes(
        match=match,
        pid_file=cfg.pid_file,
        unit=cfg.unit,
        cgroup=cfg.cgroup,
        readonly=req.readonly,
    )


def open_npmproject(req: TargetRequest) -> NpmProject:
    from rota.targets.npmproject import NpmProject

    return NpmProject(readonly=req.readonly)


def security_configured(config: Config) -> str | None:
    sec = config.security
    if not sec.projects:
        return "[security] projects is not set"
    if sec.source == "osv-export" and sec.osv_export is None:
        return '[security] osv_export is not set (source = "osv-export")'
    return None


def open_advisories(req: TargetRequest) -> Advisories:
    """The advisory source; its POSTs are queries, so check mode allows them."""
    from rota.security.advisories import Advisories

    sec = req.config.security
    return Advisories(
        sec.source,
        osv_url=sec.osv_url,
        npm_url=sec.npm_url,
        osv_export=sec.osv_export,
        timeout=sec.timeout,
        ca_file=req.config.http.ca_file,
    )


def open_project(req: TargetRequest) -> Project:
    """The [env] project tree; with [process] set, also the processes whose environment
    the audit reads (that source is optional, so it is not a kind of its own in needs)."""
    from rota.targets.project import Project

    env = req.config.env
    if env.project is None:
        raise TargetUnavailable("[env] project is not set")
    processes = open_process(req) if process_configured(req.config) is None else None
    return Project(
        env.project,
        max_file_size=env.max_file_size,
        git_timeout=env.git_timeout,
        process=processes,
    )


def open_alerts(req: TargetRequest) -> list[Channel]:
    """The configured alert channels, built by their registered types."""
    if req.channel_types is None:
        raise TargetUnavailable("no alert channel types are registered")
    channels = req.config.alerts.channels
    if not channels:
        raise TargetUnavailable("[alerts] channels is not set")
    return [req.channel_types(c.type)(c) for c in channels]


BUILTIN = (
    TargetKind(
        "postgres",
        "A PostgreSQL session with rota's timeouts, read-only in check mode ([database] url).",
        open_postgres,
        _unset("database", "url"),
    ),
    TargetKind(
        "http",
        "The platform's HTTP API; only GET and HEAD in check mode ([http] base_url).",
        open_http,
        _unset("http", "base_url"),
    ),
    TargetKind(
        "files",
        "The platform's log files: listing, families, holders, removal in place ([logs] paths).",
        open_files,
        _unset("logs", "paths"),
    ),
    TargetKind(
        "backups",
        "The backup files ([backups] pattern).",
        open_backups,
        _unset("backups", "pattern"),
    ),
    TargetKind(
        "pgtools",
        "pg_dump, pg_restore and psql, the newest fitting version ([backups] bindir or PATH).",
        open_pgtools,
    ),
    TargetKind(
        "process",
        "The service's processes and their children, with memory and cgroup limits; signals only under --apply ([process]).",
        open_process,
        process_configured,
    ),
    TargetKind(
        "project",
        "The application's source tree and git history, read-only ([env] project).",
        open_project,
        _unset("env", "project"),
    ),
    TargetKind(
        "alerts",
        "The configured alert channels ([[alerts.channels]]).",
        open_alerts,
        _unset("alerts", "channels"),
    ),
    TargetKind(
        "advisories",
        "Published vulnerability advisories: OSV's API, npm's bulk endpoint or an OSV export ([security]).",
        open_advisories,
        security_configured,
    ),
    TargetKind(
        "npmproject",
        "git and npm for the [security] projects: a scratch worktree or copy, npm install and the tests; writes only a branch or a patch, under --apply.",
        open_npmproject,
        security_configured,
    ),
)


def register(registry: Registry[TargetKind]) -> None:
    """Entry point ``rota.targets: builtin``: rota's own target kinds."""
    for kind in BUILTIN:
        registry.add(kind)
