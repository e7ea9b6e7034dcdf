"""rota.toml: the schema (:mod:`.schema`), loading it (:mod:`.load`) and reporting every
problem at once with key and line (:mod:`.problems`).

A leaf: importing it loads nothing of rota but the leaf modules units, frequency, errors
and redact, so anything can read the config without pulling in tasks or targets.
"""

from rota.config.load import DEFAULT_PATH, config_path, load_config, parse_config
from rota.config.problems import locate
from rota.config.schema import (
    SECRET_KEYS,
    AlertChannelConfig,
    AlertsConfig,
    BackupsConfig,
    CacheConfig,
    Config,
    ConfigPath,
    DatabaseConfig,
    DatabaseThresholds,
    Duration,
    EnvConfig,
    FrequencyText,
    Glob,
    Globs,
    HistoryConfig,
    HttpConfig,
    LogFormatConfig,
    LogsConfig,
    ProcessConfig,
    ScheduleConfig,
    Section,
    SecurityConfig,
    Size,
    TargetConfig,
    TaskOverride,
    ValidateQuery,
    WindowText,
)

__all__ = [
    "DEFAULT_PATH",
    "SECRET_KEYS",
    "AlertChannelConfig",
    "AlertsConfig",
    "BackupsConfig",
    "CacheConfig",
    "Config",
    "ConfigPath",
    "DatabaseConfig",
    "DatabaseThresholds",
    "Duration",
    "EnvConfig",
    "FrequencyText",
    "Glob",
    "Globs",
    "HistoryConfig",
    "HttpConfig",
    "LogFormatConfig",
    "LogsConfig",
    "ProcessConfig",
    "ScheduleConfig",
    "Section",
    "SecurityConfig",
    "Size",
    "TargetConfig",
    "TaskOverride",
    "ValidateQuery",
    "WindowText",
    "config_path",
    "load_config",
    "locate",
    "parse_config",
]
