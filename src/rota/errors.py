"""rota's exceptions and exit codes.

Everything rota raises on purpose derives from :class:`RotaError`. The core never prints
or exits: the CLI turns an error into one line on stderr and the exit code the error names.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every rota command.

    Runs follow the Monitoring Plugins convention so that Nagios, Icinga and CI read them
    without translation; everything that is not a run result gets a distinct code.
    """

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3
    USAGE = 4  # bad command line, bad config, bad input file
    INTERNAL = 70  # a bug in rota (EX_SOFTWARE); --debug shows the traceback


class RotaError(Exception):
    """Base class: a problem rota can explain to its user in one line."""

    exit_code: ExitCode = ExitCode.UNKNOWN


class ConfigError(RotaError):
    """The configuration is missing, unreadable or invalid.

    ``problems`` holds every problem found (``key path: message``), so a user fixes them
    all in one pass instead of one per run.
    """

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class UsageError(RotaError):
    """The command line asked for something that does not exist or cannot be combined."""

    exit_code = ExitCode.USAGE


class RegistryError(RotaError):
    """A task failed validation at start-up (malformed metadata, duplicate id)."""

    exit_code = ExitCode.INTERNAL


class TargetUnavailable(RotaError):
    """A target (database, HTTP service, directory, binary) cannot be reached or used."""

    exit_code = ExitCode.UNKNOWN


class LockBusy(RotaError):
    """Another run of the same task holds its lock."""

    exit_code = ExitCode.UNKNOWN


class HistoryError(RotaError):
    """The history store cannot be opened, migrated or written."""

    exit_code = ExitCode.UNKNOWN


class SandboxError(RotaError):
    """The local sandbox cannot be started, inspected or stopped."""

    exit_code = ExitCode.USAGE
