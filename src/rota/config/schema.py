"""The rota.toml schema: one pydantic model per section, whose field descriptions feed
``rota docs``, so the reference and the parser cannot disagree."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    model_validator,
)

from rota.frequency import Frequency, Window
from rota.units import parse_duration, parse_size

# user:password@ at the start of a libpq URL; the password is a secret to redact.
PASSWORD_IN_URL = re.compile(r"^[a-z+]+://[^:/@]+:([^@]+)@", re.IGNORECASE)


def _duration(v: Any) -> float:
    return parse_duration(v)


def _size(v: Any) -> int:
    return parse_size(v)


def _frequency(v: str) -> str:
    Frequency.parse(v)
    return v


def _window(v: str | None) -> str | None:
    if v:
        Window.parse(v)
    return v


def _relative(v: Path | None, info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get("base")
    if v is None or v.is_absolute() or base is None:
        return v
    return (Path(base) / v).resolve()


def _relative_paths(v: list[Path], info: ValidationInfo) -> list[Path]:
    return [p for p in (_relative(p, info) for p in v) if p is not None]


def _relative_globs(v: list[str], info: ValidationInfo) -> list[str]:
    base = (info.context or {}).get("base")
    if base is None:
        return v
    return [p if os.path.isabs(p) else str(Path(base) / p) for p in v]


def _relative_glob(v: str | None, info: ValidationInfo) -> str | None:
    return _relative_globs([v], info)[0] if v else v


def _as_written(text: str) -> Any:
    """A default kept as a person writes it ("5m", "100MB"), so the reference shows it
    that way; ``validate_default`` runs it through the field's validator."""
    return text


Duration = Annotated[float, BeforeValidator(_duration)]
Size = Annotated[int, BeforeValidator(_size)]
FrequencyText = Annotated[str, AfterValidator(_frequency)]
WindowText = Annotated[str | None, AfterValidator(_window)]
ConfigPath = Annotated[Path | None, AfterValidator(_relative)]
Globs = Annotated[list[str], AfterValidator(_relative_globs)]
ConfigPaths = Annotated[list[Path], AfterValidator(_relative_paths)]
Glob = Annotated[str | None, AfterValidator(_relative_glob)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class TargetConfig(Section):
    name: str = Field(
        "rota", description="Name of the platform rota looks after; shown in every report."
    )
    environment: str = Field("production", description="Which environment this config describes.")


class DatabaseThresholds(Section):
    idle_in_transaction: Duration = Field(
        _as_written("5m"),
        description="Sessions idle in a transaction longer than this are reported.",
    )
    connection_age: Duration = Field(
        _as_written("24h"), description="Connections older than this are reported."
    )
    long_running: Duration = Field(
        _as_written("5m"),
        description="Queries or transactions running longer than this are reported.",
    )
    bloat_percent: float = Field(
        30, ge=0, le=100, description="Table or index bloat (percent) that warrants action."
    )
    bloat_min_bytes: Size = Field(
        _as_written("100MB"), description="Bloat smaller than this is never worth a rewrite."
    )
    sequence_percent: float = Field(
        80,
        ge=0,
        le=100,
        description="Sequences used past this share of their type's range are reported.",
    )
    unused_index_stats_age: Duration = Field(
        _as_written("7d"),
        description="Indexes are judged unused only once the statistics are at least this old (since their last reset or server start).",
    )
    slow_query: Duration = Field(
        _as_written("100ms"),
        description="Statements whose mean time since the last run exceeds this are reported as slow.",
    )
    slow_query_top: int = Field(
        10, ge=1, le=100, description="How many statements, by total time, db.tuning reports."
    )
    connections_warning: float = Field(
        80,
        ge=0,
        le=100,
        description="Connection use (percent of usable max_connections) that warns.",
    )
    connections_critical: float = Field(
        95,
        ge=0,
        le=100,
        description="Connection use (percent of usable max_connections) that is critical.",
    )


class DatabaseConfig(Section):
    url: str | None = Field(
        None,
        repr=False,
        description='libpq URL of the live database, e.g. "${DATABASE_URL}". A password must come from the environment.',
    )
    high_churn_tables: list[str] = Field(
        default_factory=list,
        description="Tables that see heavy UPDATE/DELETE traffic (the runbook's VACUUM FULL candidates).",
    )
    lock_timeout: Duration = Field(
        _as_written("5s"),
        description="lock_timeout for every statement rota runs that takes a lock stronger than ACCESS SHARE.",
    )
    statement_timeout: Duration = Field(
        _as_written("60s"),
        description="statement_timeout for rota's own queries, so a locked table delays a check but never hangs a run.",
    )
    connect_timeout: Duration = Field(
        _as_written("5s"),
        description="How long to wait for a connection before the database counts as unreachable.",
    )
    index_file: ConfigPath = Field(
        None,
        description="File of declared indexes (the runbook's apply-indexes script), SQL CREATE INDEX statements.",
    )
    advisory_locks: bool = Field(
        True,
        description="Also take a PostgreSQL advisory lock per task, so rota on two machines never runs one task twice at once.",
    )
    lock_retries: int = Field(
        3,
        ge=1,
        le=10,
        description="Attempts for a maintenance statement whose lock is not granted within lock_timeout, with doubling back-off between them; then rota gives up and reports it.",
    )
    lock_retry_delay: Duration = Field(
        _as_written("1s"),
        description="Back-off before the second attempt of a statement whose lock was not granted; doubles for each later attempt.",
    )
    maintenance_timeout: Duration = Field(
        _as_written("1h"),
        description="statement_timeout for maintenance statements (VACUUM, ANALYZE, REINDEX, CREATE INDEX), further capped by the time left in the maintenance window.",
    )
    analyze_all: bool = Field(
        False,
        description="Run the runbook's database-wide ANALYZE instead of analyzing only the tables whose changes warrant it.",
    )
    tune_autovacuum: bool = Field(
        False,
        description="Apply the proposed per-table autovacuum settings for high_churn_tables with --apply (otherwise they are only proposed).",
    )
    thresholds: DatabaseThresholds = Field(default_factory=DatabaseThresholds)


class LogFormatConfig(Section):
    regex: str = Field(
        description="A regex with named groups: ts, level, component, message, method, path, status, duration."
    )
    time_format: str | None = Field(
        None,
        description='strptime format of the ts group when it is not ISO 8601 ("%d/%b/%Y:%H:%M:%S %z").',
    )
    duration_unit: str = Field(
        "ms", description="Unit of a duration group written without one (ns, us, ms, s)."
    )


class LogsConfig(Section):
    paths: Globs = Field(
        default_factory=list,
        description='Globs of log files, live and rotated ("/var/log/rylie/*.log*").',
    )
    # logs.analyze
    top_groups: int = Field(
        20, ge=1, description="How many error groups logs.analyze reports (largest first)."
    )
    p95_threshold: Duration | None = Field(
        None,
        description='A route whose p95 latency is above this is a logs.latency.regression ("1s"); unset: only history is compared.',
    )
    timezone: str = Field(
        "UTC",
        description="Time zone of timestamps written without an offset, and of 'since midnight'.",
    )
    spike_factor: float = Field(
        3.0,
        gt=1,
        description="Today's error rate this many times its usual level is a logs.errors.spike.",
    )
    format: LogFormatConfig | None = Field(
        None,
        description="A custom line format ([logs.format] regex = ...), tried before the built-in ones.",
    )
    retention_days: int = Field(
        30,
        ge=1,
        description="Rotated logs older than this many days may be removed by logs.cleanup.",
    )
    # logs.rotation and logs.cleanup
    stale_after: Duration = Field(
        _as_written("24h"),
        description="A live log not written for this long is reported by logs.rotation.",
    )
    disk_warning_percent: float = Field(
        80,
        ge=0,
        le=100,
        description="Use of the filesystem holding a log directory (percent, as df shows it) that is a warning.",
    )
    disk_critical_percent: float = Field(
        90,
        ge=0,
        le=100,
        description="Use of the filesystem holding a log directory (percent) that is critical.",
    )
    verify_max_bytes: Size = Field(
        _as_written("4GB"),
        description="Compressed bytes of each rotated file read when verifying its integrity; a larger file is verified up to this point and reported as partly verified.",
    )
    reverify_after: Duration = Field(
        _as_written("7d"),
        description='How long a rotated archive that decompressed cleanly is trusted unchanged (same size, mtime and inode) before it is read again; "0s" reads every archive on every run.',
    )


class ValidateQuery(Section):
    query: str = Field(description="SQL run against the restored backup.")
    expect: str = Field(
        "> 0", description='Expectation on the single value it returns, e.g. "> 0".'
    )


def _time_zone(v: str) -> str:
    """ "local", "UTC" or a name the zone database knows ([backups] name_timezone)."""
    if v.lower() != "local" and v.upper() != "UTC":
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f'unknown time zone {v!r}: use "local", "UTC" or an IANA name such as "Europe/Berlin"'
            ) from None
    return v


class BackupsConfig(Section):
    pattern: Glob = Field(
        None, description='Glob of backup files ("/backups/database/rylie_full_*.dump.gz").'
    )
    dir: ConfigPath = Field(None, description="Where backup.create writes new backups.")
    max_age: Duration = Field(
        _as_written("26h"),
        description="Newest backup older than this breaks the recovery point objective.",
    )
    rto_target: Duration = Field(
        _as_written("30m"),
        description="A restore slower than this breaks the recovery time objective.",
    )
    jobs: int | None = Field(
        None, ge=1, description="Restore parallelism; default: the number of cores."
    )
    validate_: list[ValidateQuery] = Field(
        default_factory=list,
        alias="validate",
        description="Validation queries run against a restored backup.",
    )
    restore_url: str | None = Field(
        None,
        repr=False,
        description="libpq URL of the server (and maintenance database) where backup.verify creates its scratch database (needs CREATEDB); default: the server of [database] url.",
    )
    bindir: ConfigPath = Field(
        None,
        description="Directory of pg_dump/pg_restore/psql; default: the version matching the server, else the newest installed.",
    )
    format: str = Field(
        "custom-gzip",
        pattern="^(custom-gzip|custom|plain-gzip)$",
        description='What backup.create writes: "custom-gzip" (pg_dump -Fc | gzip, the runbook\'s; measured fastest to verify), "custom" (pg_dump -Fc) or "plain-gzip" (SQL | gzip).',
    )
    name_template: str = Field(
        "rylie_full_{timestamp}{ext}",
        description="File name of new backups; {timestamp} is the UTC time as YYYYmmddTHHMMSSZ, {ext} the format's extension. Keep it matching pattern.",
    )
    name_timezone: Annotated[str, AfterValidator(_time_zone)] = Field(
        "local",
        description='Time zone of the times in backup names that carry none ("rylie_full_20261204_110000", as date +%Y%m%d_%H%M%S writes): "local" (this machine\'s, as date writes), "UTC" or an IANA name ("Europe/Berlin"). A zone in the name ("Z", "+0100") wins.',
    )
    temp_dir: ConfigPath = Field(
        None,
        description="Where backup.verify decompresses a backup for a parallel restore; default: the system temp directory.",
    )
    keep_daily: int = Field(
        7, ge=1, description="Retention: newest backup of each of this many days."
    )
    keep_weekly: int = Field(
        4, ge=0, description="Retention: newest backup of each of this many ISO weeks."
    )
    keep_monthly: int = Field(
        6, ge=0, description="Retention: newest backup of each of this many months."
    )
    expected_growth: float = Field(
        10,
        ge=0,
        description="Percent of a table's rows that may be newer than the backup, per day of its age (at least one day); live minus restored beyond that is backup.count_mismatch.",
    )
    size_change: float = Field(
        50,
        gt=0,
        description="Percent a backup's size may differ from the median of recent backups before it is backup.size_anomaly.",
    )


class HttpConfig(Section):
    base_url: str | None = Field(
        None, description='Base URL of the platform ("https://rylie.example.com").'
    )
    ca_file: ConfigPath = Field(
        None,
        description="CA bundle to verify the platform's certificate, when it is not publicly trusted.",
    )
    timeout: Duration = Field(
        _as_written("10s"), description="Timeout for each HTTP request rota makes."
    )
    health_path: str = Field("/api/health", description="Path of the health endpoint.")
    cache_health_path: str = Field(
        "/api/health/cache", description="Path of the cache statistics endpoint."
    )
    cache_clear_path: str = Field(
        "/api/cache/clear",
        description="Path of the cache clear endpoint (POST, admin bearer token).",
    )
    admin_token: SecretStr | None = Field(
        None,
        description='Admin bearer token for the cache clear endpoint: "${VAR}" or "file:PATH".',
    )
    max_latency: Duration = Field(
        _as_written("2s"), description="A health check slower than this is a warning."
    )


class CacheConfig(Section):
    hit_ratio_warning: float = Field(
        0.8, ge=0, le=1, description="Cache hit ratio below this is a warning."
    )
    hit_ratio_critical: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Cache hit ratio below this is critical, and cache.review plans a clear.",
    )


def _regex(v: str) -> str:
    try:
        re.compile(v)
    except re.error as exc:
        raise ValueError(f"not a valid regex: {exc}") from None
    return v


class ProcessConfig(Section):
    match: Annotated[str, AfterValidator(_regex)] = Field(
        "node.*server",
        description="Regex on the whole command line, as `pgrep -f` takes it, selecting the service's processes. With pid_file, unit or cgroup it only filters what they select (a pid file naming a process that does not match is stale).",
    )
    pid_file: ConfigPath = Field(
        None,
        description="File holding the service's main pid; selects that process instead of match.",
    )
    unit: str | None = Field(
        None,
        description='systemd unit whose processes to watch ("rylie.service"); found through /proc/PID/cgroup.',
    )
    cgroup: str | None = Field(
        None,
        description='cgroup whose processes to watch, as /proc/PID/cgroup shows it ("/system.slice/rylie.service") or under /sys/fs/cgroup.',
    )
    memory_warning: Size | None = Field(
        None,
        description='RSS of a process and its children above which monitor.memory warns ("1GB"); unset: judged only against limits and growth.',
    )
    memory_critical: Size | None = Field(
        None, description='RSS of a process and its children above which it is critical ("2GB").'
    )
    limit_warning: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Share of the memory limit (the cgroup's memory.max, or the V8 heap limit from --max-old-space-size) that warns.",
    )
    limit_critical: float = Field(
        0.9, ge=0, le=1, description="Share of the memory limit that is critical."
    )
    leak_warning: Size = Field(
        _as_written("20MB"),
        description="RSS growth per hour, fitted over leak_window, that is a leak (once it also adds up to 1 MiB and 1% of RSS over the samples).",
    )
    leak_window: Duration = Field(
        _as_written("6h"),
        description="How much history the growth slope is fitted over (never further back than the process's start).",
    )
    min_samples: int = Field(
        6,
        ge=3,
        description="Samples (runs) of one process's life needed before its growth is judged.",
    )

    @model_validator(mode="after")
    def _one_selector(self) -> ProcessConfig:
        chosen = [k for k in ("pid_file", "unit", "cgroup") if getattr(self, k) is not None]
        if len(chosen) > 1:
            raise ValueError(f"set only one of pid_file, unit and cgroup (got {', '.join(chosen)})")
        return self


class HistoryConfig(Section):
    url: str | None = Field(
        None,
        description='Where run history is kept: "sqlite:///path.db" or a PostgreSQL URL. Default: a SQLite file in the user\'s state directory.',
    )
    keep_days: int = Field(400, ge=1, description="Runs older than this many days are pruned.")


class ScheduleConfig(Section):
    window: WindowText = Field(
        None, description='Maintenance window for changes, with a time zone: "Sun 02:00-05:00 UTC".'
    )
    grace: Duration | None = Field(
        None,
        description="How late a task may be before it counts as overdue; default depends on its frequency.",
    )
    check_interval: Duration = Field(
        _as_written("5m"), description="How often `rota daemon` looks for due tasks."
    )


class AlertChannelConfig(Section):
    name: str = Field(description="What the channel is called in output and history.")
    type: str = Field(
        description="webhook (JSON POST), slack (incoming webhook), pagerduty (Events API v2), sendgrid (email), or a plugin's channel type. Each type checks its own keys at start-up."
    )
    url: SecretStr | None = Field(
        None,
        description='Endpoint: required for webhook and slack (whose URL is its credential: "${SLACK_WEBHOOK_URL}"); pagerduty and sendgrid default to the vendor\'s API.',
    )
    routing_key: SecretStr | None = Field(
        None, description='pagerduty: the service\'s integration key, "${PAGERDUTY_ROUTING_KEY}".'
    )
    api_key: SecretStr | None = Field(None, description='sendgrid: "${SENDGRID_API_KEY}".')
    to: list[str] = Field(default_factory=list, description="sendgrid: recipients.")
    sender: str | None = Field(None, description="sendgrid: the verified sender address.")
    min_severity: Literal["warning", "unknown", "critical"] = Field(
        "warning",
        description="A state change alerts this channel when the old or the new state is at least this bad.",
    )
    tasks: list[str] = Field(
        default_factory=lambda: ["*"], description='Task ids or globs: ["backup.*", "db.*"].'
    )
    timeout: Duration = Field(_as_written("10s"), description="How long one delivery may take.")
    remind_every: Duration | None = Field(
        None,
        description='Send again while a task stays this bad, at most this often: "24h" (default: only on changes).',
    )
    after: int = Field(
        1,
        ge=1,
        le=100,
        description="Runs in a row a task must be at least min_severity before this channel is told (3 waits out a flapping check); the resolve then goes only to channels that were told, and a failed delivery is retried on the next run.",
    )


class AlertsConfig(Section):
    channels: list[AlertChannelConfig] = Field(
        default_factory=list,
        description="Where state changes are sent: [[alerts.channels]] tables (none: no alerts).",
    )

    @model_validator(mode="after")
    def _unique(self) -> AlertsConfig:
        names = [c.name for c in self.channels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"channel names must be unique: {', '.join(dupes)}")
        return self


class SecurityConfig(Section):
    projects: ConfigPaths = Field(
        default_factory=list,
        description="Directories holding a lockfile to audit (package-lock.json, requirements*.txt, poetry.lock, uv.lock, pylock.toml); relative to this file.",
    )
    source: Literal["osv", "npm", "osv-export"] = Field(
        "osv",
        description='Where advisories come from: "osv" (OSV\'s API, every ecosystem), "npm" (the npm registry\'s bulk advisory endpoint, npm packages only) or "osv-export" (OSV\'s downloaded export, offline).',
    )
    osv_url: str = Field("https://api.osv.dev", description="Base URL of the OSV API.")
    npm_url: str = Field("https://registry.npmjs.org", description="Base URL of the npm registry.")
    osv_export: ConfigPath = Field(
        None,
        description='For source = "osv-export": a directory holding OSV\'s per-ecosystem exports (npm/all.zip, PyPI/all.zip) or records, or one all.zip.',
    )
    timeout: Duration = Field(
        _as_written("30s"), description="Timeout for each request to the advisory source."
    )
    test_command: str | None = Field(
        None,
        description='The projects\' test command ("npm test"), run in the scratch copy before security.dependencies --apply writes a fix; unset, no fix is written (the fix is untested).',
    )
    test_timeout: Duration = Field(
        _as_written("10m"), description="How long the test command may take."
    )
    fix_output: Literal["branch", "patch"] = Field(
        "branch",
        description='Where security.dependencies --apply puts a tested fix: "branch" (a commit on branch rota/deps-fix-<date>) or "patch" (<project>/rota-deps-fix-<date>.patch).',
    )


def _sha256_list(v: list[str]) -> list[str]:
    out = []
    for h in v:
        digest = h.strip().lower().removeprefix("sha256:")
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError(
                f"{h[:12]!r}... is not a SHA-256 hex digest: allow test values by hash only"
            )
        out.append(digest)
    return out


class EnvConfig(Section):
    project: ConfigPath = Field(
        None,
        description="Directory of the application's code and .env files, read by security.env (relative to this file).",
    )
    files: list[str] = Field(
        default_factory=lambda: [".env", ".env.*"],
        description="Globs of the dotenv files, relative to project. .env.example, .env.sample and .env.template only document names.",
    )
    required: list[str] = Field(
        default_factory=list,
        description="Variables that must be set even where the code reading them was not found (critical when missing).",
    )
    allow: Annotated[list[str], AfterValidator(_sha256_list)] = Field(
        default_factory=list,
        description="SHA-256 hex digests of known test values not to report (`sha256sum` of the value; never the value itself).",
    )
    history: bool = Field(
        True, description="Also scan every ref's git history for secrets added and later removed."
    )
    max_file_size: Size = Field(
        _as_written("2MB"), description="Files larger than this are not scanned."
    )
    git_timeout: Duration = Field(
        _as_written("2m"), description="How long one git command may take."
    )


class TaskOverride(Section):
    enabled: bool = Field(True, description="False removes the task from --all and --due runs.")
    frequency: FrequencyText | None = Field(None, description="Overrides the task's frequency.")
    timeout: Duration | None = Field(None, description="Overrides the task's timeout.")
    grace: Duration | None = Field(None, description="Overrides the grace period.")


class Config(BaseModel):
    """The whole of rota.toml."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    target: TargetConfig = Field(default_factory=TargetConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    backups: BackupsConfig = Field(default_factory=BackupsConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    # Its own presence is the setting: a config without [process] watches no process.
    process: ProcessConfig = Field(default_factory=ProcessConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    env: EnvConfig = Field(default_factory=EnvConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    tasks: dict[str, TaskOverride] = Field(
        default_factory=dict,
        description='Per-task overrides: [tasks."db.vacuum"] frequency = "daily".',
    )
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Settings of plugins' target kinds and tasks, one table per plugin: [plugins.NAME] key = value. Each plugin checks its own table. Values of keys named like a secret (token, key, password, secret) and passwords in URLs are redacted from every output.",
    )

    # Where the file came from (None: defaults only). Not a config key.
    source: Path | None = Field(None, exclude=True)

    def override(self, task_id: str) -> TaskOverride:
        return self.tasks.get(task_id) or TaskOverride()

    def secrets(self) -> list[str]:
        """Every secret value this config holds, for redaction of outputs."""
        out: list[str] = []
        if self.http.admin_token:
            out.append(self.http.admin_token.get_secret_value())
        for ch in self.alerts.channels:
            for secret in (ch.url, ch.routing_key, ch.api_key):
                if secret is not None:
                    out.append(secret.get_secret_value())
        for url in (self.database.url, self.backups.restore_url):
            m = PASSWORD_IN_URL.match(url or "")
            if m:
                out.append(m.group(1))
        for table in self.plugins.values():
            for key, value in table.items():
                if isinstance(value, str) and SECRET_NAME.search(key):
                    out.append(value)
                elif isinstance(value, str) and (m := PASSWORD_IN_URL.match(value)):
                    out.append(m.group(1))
        return [s for s in out if len(s) >= 4]


# A [plugins.*] key whose value is a secret, by its name.
SECRET_NAME = re.compile(r"token|key|password|passwd|secret|credential", re.IGNORECASE)

SECRET_KEYS = {
    ("http", "admin_token"),
    ("alerts", "channels", "url"),
    ("alerts", "channels", "routing_key"),
    ("alerts", "channels", "api_key"),
}
