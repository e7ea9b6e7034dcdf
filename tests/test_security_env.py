"""The environment audit: reads in code, the dotenv format, and the audit's judgements."""

from __future__ import annotations

from rota.security.envaudit import (
    DotenvEntry,
    Read,
    audit,
    code_reads,
    env_file_role,
    parse_dotenv,
)

JS = """
const a = process.env.API_URL;
const b = process.env["SENDGRID_API_KEY"] || "";
const c = process.env['REDIS_URL'];
const { DATABASE_URL, PORT: port = 3000, ...rest } = process.env;
const d = import.meta.env.VITE_SENTRY_DSN;
"""
PY = """
import os
a = os.environ["SECRET_KEY"]
b = os.environ.get("DEBUG_SQL")
c = os.getenv('TIMEOUT', '5')
"""


def names(reads: list[Read]) -> dict[str, bool]:
    return {r.name: r.has_default for r in reads}


def test_it_finds_every_js_form_of_reading_the_environment() -> None:
    assert names(code_reads("app.js", JS)) == {
        "API_URL": False,
        "SENDGRID_API_KEY": True,
        "REDIS_URL": False,
        "DATABASE_URL": False,
        "PORT": True,
        "VITE_SENTRY_DSN": False,
    }


def test_it_finds_python_reads_and_treats_get_and_getenv_as_optional() -> None:
    reads = code_reads("settings.py", PY)
    assert names(reads) == {"SECRET_KEY": False, "DEBUG_SQL": True, "TIMEOUT": True}
    assert [r.line for r in reads] == [3, 4, 5]


def test_it_parses_the_dotenv_format() -> None:
    text = (
        "# comment\n"
        "export A=1\n"
        "B='single # not a comment'\n"
        'C="line1\\nline2"\n'
        "D=bare value # comment\n"
        'E="multi\n'
        'line"\n'
        "F=\n"
    )
    got = {e.name: (e.value, e.line) for e in parse_dotenv(".env", text)}
    assert got == {
        "A": ("1", 2),
        "B": ("single # not a comment", 3),
        "C": ("line1\nline2", 4),
        "D": ("bare value", 5),
        "E": ("multi\nline", 6),
        "F": ("", 8),
    }


def test_it_tells_example_development_and_production_files_apart() -> None:
    assert env_file_role(".env.example") == "example"
    assert env_file_role(".env.test") == "dev"
    assert env_file_role(".env") == env_file_role(".env.production") == "production"


def codes(problems: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return sorted((p.code, p.name) for p in problems)


def test_it_reports_missing_unused_and_placeholder_variables() -> None:
    reads = [Read("API_URL", "a.js", 1, False), Read("PORT", "a.js", 2, True)]
    entries = [
        DotenvEntry("SECRET_KEY", "changeme", ".env", 1),
        DotenvEntry("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", ".env", 2),
        DotenvEntry("NODE_ENV", "production", ".env", 3),
        DotenvEntry("API_URL", "x", ".env.example", 1),
    ]
    problems = audit(reads, entries, modes={".env": 0o600}, ignored={".env"}, committed={})
    assert codes(problems) == [
        ("security.env.missing", "API_URL"),
        ("security.env.placeholder", "AWS_ACCESS_KEY_ID"),
        ("security.env.placeholder", "SECRET_KEY"),
        ("security.env.unused", "AWS_ACCESS_KEY_ID"),
        ("security.env.unused", "SECRET_KEY"),
    ]


def test_it_counts_the_process_environment_as_a_source() -> None:
    reads = [Read("API_URL", "a.js", 1, False)]
    assert (
        audit(reads, [], modes={}, ignored=None, committed={}, process_env={"API_URL": "x"}) == []
    )


def test_it_flags_readable_unignored_and_committed_env_files() -> None:
    entries = [DotenvEntry("DATABASE_URL", "postgres://app:Zx9kQ2mP7vL1@db/app", ".env", 1)]
    reads = [Read("DATABASE_URL", "a.js", 1, False)]
    problems = audit(
        reads, entries, modes={".env": 0o644}, ignored=set(), committed={".env": ["abc"]}
    )
    assert codes(problems) == [
        ("security.env.file_mode", ".env"),
        ("security.env.not_ignored", ".env"),
        ("security.env.not_ignored", ".env"),
    ]
    [mode] = [p for p in problems if p.code == "security.env.file_mode"]
    assert mode.severity == "critical" and "DATABASE_URL" in mode.message
    assert mode.evidence["mode"] == "0644"
