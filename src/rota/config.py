"""rota.toml: load, interpolate ``${VAR}``, validate, and report every problem at once.

Every key is a pydantic field whose description feeds ``rota docs`` (the configuration
reference), so the docs and the parser cannot disagree. Secrets come only from the
environment (``"${OPENAI_API_KEY}"``) or a file (``"file:/run/secrets/token"``); a secret
written literally into rota.toml is a config error, and a password inside
``database.url`` must come from the environment too.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from rota.errors import ConfigError
from rota.units import parse_duration, parse_size

DEFAULT_PATH = Path("rota.toml")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PASSWORD_IN_URL = re.compile(r"^[a-z+]+://[^:/@]+:([^@]+)@", re.IGNORECASE)


def _duration(v: Any) -> float:
    return parse_duration(v)


def _size(v: Any) -> int:
    return parse_size(v)


def _frequency(v: str) -> str:
    from rota.frequency import Frequency

    Frequency.parse(v)
    return v


def _window(v: str | None) -> str | None:
    if v:
        from rota.frequency import Window

        Window.parse(v)
    return v


def _relative(v: Path | None, info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get("base")
    if v is None or v.is_absolute() or base is None:
        return v
    return (Path(base) / v).resolve()


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
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


class ProcessConfig(Section):
    pattern: str = Field(
        "node.*server",
        description="Regular expression matched against process command lines (the runbook's pgrep -f).",
    )
    memory_warning: Size = Field(
        _as_written("1GB"), description="Resident memory above this is a warning."
    )


class EnvConfig(Section):
    file: ConfigPath = Field(None, description="The platform's .env file.")
    required: list[str] = Field(default_factory=list, description="Variables that must be set.")


class ProjectConfig(Section):
    dir: ConfigPath = Field(
        None, description="The platform's source tree (package.json, lock file, tests)."
    )


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
    type: Literal["webhook", "slack", "pagerduty", "sendgrid"] = Field(
        description="webhook (JSON POST), slack (incoming webhook), pagerduty (Events API v2) or sendgrid (email)."
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

    @model_validator(mode="after")
    def _complete(self) -> AlertChannelConfig:
        need = {
            "webhook": ("url",),
            "slack": ("url",),
            "pagerduty": ("routing_key",),
            "sendgrid": ("api_key", "to", "sender"),
        }[self.type]
        missing = [k for k in need if not getattr(self, k)]
        if missing:
            raise ValueError(f"a {self.type} channel needs {' and '.join(missing)}")
        # The transport's own checks (a URL it can post to, a key without spaces), at load
        # time rather than at the first alert. Only configs with channels pay the import.
        from rota.alerts.channels import make_channel
        from rota.alerts.dispatch import settings_of

        make_channel(settings_of(self))
        return self


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
    process: ProcessConfig = Field(default_factory=ProcessConfig)
    env: EnvConfig = Field(default_factory=EnvConfig)
    project: ProjectConfig = Field(default_factory=ProjectConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    tasks: dict[str, TaskOverride] = Field(
        default_factory=dict,
        description='Per-task overrides: [tasks."db.vacuum"] frequency = "daily".',
    )

    # Where the file came from (None: defaults only). Not a config key.
    source: Path | None = Field(None, exclude=True)

    def is_configured(self, section: str) -> str | None:
        """None when ``section`` is usable, else why not (e.g. "[database] url is not set")."""
        section = {"postgres": "database", "files": "logs"}.get(section, section)
        required = {
            "database": ("url",),
            "http": ("base_url",),
            "logs": ("paths",),
            "backups": ("pattern",),
            "env": ("file",),
            "project": ("dir",),
            "process": ("pattern",),
            "alerts": ("channels",),
        }.get(section, ())
        sect = getattr(self, section, None)
        for key in required:
            if not getattr(sect, key, None):
                return f"[{section}] {key} is not set"
        return None

    def missing(self, needs: tuple[str, ...]) -> str | None:
        """Why a task needing ``needs`` cannot run with this config (None: it can)."""
        for section in needs:
            why = self.is_configured(section)
            if why:
                return why
        return None

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
            m = _PASSWORD_IN_URL.match(url or "")
            if m:
                out.append(m.group(1))
        return [s for s in out if len(s) >= 4]


SECRET_KEYS = {
    ("http", "admin_token"),
    ("alerts", "channels", "url"),
    ("alerts", "channels", "routing_key"),
    ("alerts", "channels", "api_key"),
}


def config_path(cli_path: Path | None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if cli_path is not None:
        return cli_path
    if env.get("ROTA_CONFIG"):
        return Path(env["ROTA_CONFIG"])
    return DEFAULT_PATH


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    required: bool = False,
    secrets: bool = True,
) -> Config:
    """Load and validate rota.toml, raising ConfigError with every problem found.

    ``path`` None means ROTA_CONFIG or ./rota.toml; when neither exists and the file is
    not ``required``, the defaults are returned (tasks then say what is not configured).
    ``secrets=False`` (commands that touch no target) leaves a secret whose variable is
    unset or whose file is unreadable as None instead of reporting it.
    """
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("ROTA_CONFIG"))
    p = config_path(path, env)
    if not p.exists():
        if explicit or required:
            raise ConfigError(f"config file {p} does not exist (create one with `rota init`)")
        return Config()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    return parse_config(text, source=p, env=env, secrets=secrets)


def parse_config(
    text: str,
    *,
    source: Path | None = None,
    env: Mapping[str, str] | None = None,
    secrets: bool = True,
) -> Config:
    env = os.environ if env is None else env
    where = str(source) if source else "config"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}", [f"{where}: {exc}"]) from None
    problems: list[str] = []
    data = _interpolate(raw, (), env, problems, text, source, secrets)
    try:
        cfg = Config.model_validate(
            data, context={"base": source.parent.resolve() if source else None}
        )
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(_describe(err, raw, text))
        cfg = None
    if problems:
        n = len(problems)
        raise ConfigError(f"{where}: {n} problem{'s' if n > 1 else ''} found", problems)
    assert cfg is not None
    cfg.source = source
    return cfg


def _interpolate(
    value: Any,
    loc: tuple[str, ...],
    env: Mapping[str, str],
    problems: list[str],
    text: str,
    source: Path | None,
    secrets: bool = True,
) -> Any:
    if isinstance(value, dict):
        return {
            k: _interpolate(v, (*loc, k), env, problems, text, source, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, loc, env, problems, text, source, secrets) for v in value]
    if not isinstance(value, str):
        return value
    key = _key(loc, text)
    interpolated = bool(_VAR.search(value))
    is_secret = tuple(loc[:2]) in SECRET_KEYS or tuple(loc[:3]) in SECRET_KEYS
    unresolved: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        unresolved.append(f"{key}: environment variable {name} is not set")
        return ""

    result = _VAR.sub(sub, value)
    if is_secret and not secrets and unresolved:
        return None  # resolved lazily: only commands that use the secret need it
    problems.extend(unresolved)
    if is_secret:
        if value.startswith("file:"):
            secret_file = Path(value[5:]).expanduser()
            if not secret_file.is_absolute() and source is not None:
                secret_file = source.parent / secret_file
            try:
                return secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                if secrets:
                    problems.append(f"{key}: cannot read secret file {secret_file}: {exc.strerror}")
                return None
        if not interpolated:
            problems.append(
                f'{key}: secrets are not written into rota.toml; use "${{VAR}}" (environment) '
                'or "file:/path/to/secret"'
            )
            return None
    if loc == ("database", "url") and not interpolated and _PASSWORD_IN_URL.match(value):
        problems.append(
            f"{key}: the URL holds a password; put the URL in the environment "
            '(url = "${DATABASE_URL}") or the password in ~/.pgpass'
        )
    return result


def _key(loc: tuple[Any, ...], text: str) -> str:
    dotted = ".".join(f'"{p}"' if "." in str(p) else str(p) for p in loc) or "(top level)"
    line = locate(text, [str(p) for p in loc if not isinstance(p, int)])
    return f"{dotted} (line {line})" if line else dotted


def _describe(err: Any, raw: dict[str, Any], text: str) -> str:
    loc = tuple("validate" if p == "validate_" else p for p in err["loc"])
    # A failing function-wrapped type reports its inner type in loc; drop such parts.
    loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
    key = _key(loc, text)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        hint = ""
        if parent is not None:
            close = difflib.get_close_matches(str(loc[-1]), _field_names(parent), n=1)
            if close:
                hint = f"; did you mean {close[0]}?"
        return f"{key}: unknown key{hint}"
    if kind == "missing":
        return f"{key}: required value is missing"
    msg = err["msg"]
    msg = msg.removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    got = err.get("input")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"{key}: {msg.lower()}, got {got!r}"
    return f"{key}: {msg}"


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Config
    for part in loc:
        if model is Config and part == "tasks":
            return None
        field = model.model_fields.get(str(part)) or model.model_fields.get(f"{part}_")
        if field is None:
            return TaskOverride if model is Config else None
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return None
    return model


def locate(text: str, loc: list[str]) -> int | None:
    """Line number (1-based) of the key at ``loc`` in TOML ``text``, when it can be found."""
    if not loc:
        return None
    header_re = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    table: list[str] = []
    best: int | None = None
    for n, line in enumerate(text.splitlines(), 1):
        m = header_re.match(line)
        if m:
            table = _split_key(m.group(1))
            if table == loc:
                best = best or n
            continue
        km = re.match(r"^\s*([A-Za-z0-9_\-\".' ]+?)\s*=", line)
        if km:
            keys = _split_key(km.group(1))
            if table + keys == loc:
                return n
    return best


def _split_key(text: str) -> list[str]:
    """Split a TOML dotted key, keeping quoted parts whole: tasks."db.vacuum" -> 2 parts."""
    return [a or b or c.strip() for a, b, c in re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.]+)', text)]
