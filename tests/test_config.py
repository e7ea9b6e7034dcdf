"""rota.toml loading: interpolation, secrets, every problem reported with its key and line."""

import subprocess
import sys
from pathlib import Path

import pytest

from rota.config import Config, load_config, locate, parse_config
from rota.config_reference import reference_markdown
from rota.errors import ConfigError

BAD = """\
[target]
name = "rylie"

[database]
lock_timeout = "abc"
high_churn_tables = "messages"

[database.thresholds]
bloat_percent = 300

[logs]
retention = 30

[http]
base_url = "${ROTA_TEST_UNSET}"
admin_token = "literal-token"

[schedule]
window = "Sun 02:00-05:00 Mars/Olympus"

[tasks."db.vacuum"]
frequency = "fortnightly"
"""


def problems_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source=Path("/etc/rota/rota.toml"), env=env or {})
    return info.value.problems


def test_it_reports_every_problem_at_once_with_key_and_line() -> None:
    problems = problems_of(BAD)
    assert len(problems) == 8
    joined = "\n".join(problems)
    assert "database.lock_timeout (line 5): 'abc' is not a duration" in joined
    assert "database.high_churn_tables (line 6): input should be a valid list" in joined
    assert "database.thresholds.bloat_percent (line 9)" in joined
    assert "logs.retention (line 12): unknown key; did you mean retention_days?" in joined
    assert "http.base_url (line 15): environment variable ROTA_TEST_UNSET is not set" in joined
    assert "http.admin_token (line 16): secrets are not written into rota.toml" in joined
    assert "schedule.window (line 19): 'Mars/Olympus' is not a known time zone" in joined
    assert 'tasks."db.vacuum".frequency (line 22)' in joined


def test_it_never_echoes_a_literal_secret_in_its_problems() -> None:
    assert "literal-token" not in "\n".join(problems_of(BAD))


def test_it_interpolates_environment_variables_with_defaults() -> None:
    cfg = parse_config(
        '[database]\nurl = "${DB}"\n[target]\nname = "${NAME:-fallback}"\n',
        env={"DB": "postgresql://u:pw0rd@h/db"},
    )
    assert cfg.database.url == "postgresql://u:pw0rd@h/db"
    assert "pw0rd" not in repr(cfg)
    assert cfg.target.name == "fallback"
    assert "pw0rd" in cfg.secrets()


def test_it_rejects_a_password_written_into_the_database_url() -> None:
    problems = problems_of('[database]\nurl = "postgresql://app:hunter2@db/rylie"\n')
    assert problems == [
        "database.url (line 2): the URL holds a password; put the URL in the environment "
        '(url = "${DATABASE_URL}") or the password in ~/.pgpass'
    ]


def test_it_reads_secrets_from_files_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret-token\n")
    (tmp_path / "rota.toml").write_text(
        '[http]\nbase_url = "http://x"\nadmin_token = "file:token"\n'
    )
    cfg = load_config(tmp_path / "rota.toml")
    assert cfg.http.admin_token is not None
    assert cfg.http.admin_token.get_secret_value() == "s3cret-token"
    assert "s3cret-token" not in repr(cfg)


def test_it_converts_durations_and_sizes() -> None:
    cfg = parse_config(
        '[database]\nlock_timeout = "2s"\n[database.thresholds]\nbloat_min_bytes = "1GB"\nconnection_age = "1d"\n'
    )
    assert cfg.database.lock_timeout == 2
    assert cfg.database.thresholds.bloat_min_bytes == 1024**3
    assert cfg.database.thresholds.connection_age == 86400
    assert cfg.database.thresholds.idle_in_transaction == 300


def test_it_resolves_relative_paths_against_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "rota.toml").write_text(
        '[logs]\npaths = ["logs/*.log*", "/abs/*.log"]\n[database]\nindex_file = "sql/indexes.sql"\n'
    )
    cfg = load_config(tmp_path / "rota.toml")
    assert cfg.logs.paths == [str(tmp_path / "logs/*.log*"), "/abs/*.log"]
    assert cfg.database.index_file == (tmp_path / "sql/indexes.sql").resolve()


def test_it_uses_rota_config_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text('[target]\nname = "from-env"\n')
    assert (
        load_config(None, env={"ROTA_CONFIG": str(tmp_path / "x.toml")}).target.name == "from-env"
    )


def test_it_fails_clearly_when_an_explicit_config_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_it_returns_defaults_when_no_config_exists_and_none_was_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, env={})
    assert cfg.source is None
    assert cfg.database.url is None


def test_it_reports_invalid_toml_with_its_position() -> None:
    with pytest.raises(ConfigError, match="not valid TOML.*line 2"):
        parse_config("[target]\nname = \n")


def test_it_loads_the_rylie_profile_without_problems() -> None:
    from importlib import resources

    text = resources.files("rota.profiles").joinpath("rylie.toml").read_text()
    cfg = parse_config(
        text, env={"DATABASE_URL": "postgresql://db/rylie", "ROTA_ADMIN_API_KEY": "k" * 20}
    )
    assert cfg.target.name == "rylie"
    assert cfg.database.high_churn_tables == ["conversations", "messages"]
    assert cfg.backups.pattern == "/backups/database/rylie_full_*.dump.gz"
    assert len(cfg.backups.validate_) == 2


def test_it_finds_lines_of_quoted_dotted_keys() -> None:
    text = '[tasks."db.vacuum"]\nfrequency = "x"\n'
    assert locate(text, ["tasks", "db.vacuum", "frequency"]) == 2


def test_its_reference_documents_every_section() -> None:
    ref = reference_markdown()
    for section in Config.model_fields:
        if section != "source":
            assert f"[{section}" in ref
    assert '`lock_timeout` | `"5s"`' in ref
    # Arrays of tables are documented key by key too.
    assert "## [[alerts.channels]]" in ref and "| `remind_every` |" in ref
    assert "## [[backups.validate]]" in ref and "| `expect` |" in ref
    assert "## [logs.format]" in ref and "| `regex` |" in ref


def test_it_leaves_an_unset_secret_unset_for_commands_that_touch_no_target(
    tmp_path: Path,
) -> None:
    text = '[http]\nbase_url = "http://x"\nadmin_token = "${ROTA_T_UNSET_KEY}"\n'
    with pytest.raises(ConfigError):
        parse_config(text, env={})
    cfg = parse_config(text, env={}, secrets=False)
    assert cfg.http.admin_token is None and cfg.http.base_url == "http://x"
    # A missing secret file too; other variables are still required.
    cfg = parse_config('[http]\nadmin_token = "file:/nonexistent/token"\n', env={}, secrets=False)
    assert cfg.http.admin_token is None
    with pytest.raises(ConfigError, match="1 problem"):
        parse_config('[database]\nurl = "${ROTA_T_UNSET_DB}"\n', env={}, secrets=False)


def test_it_reports_sections_nothing_reads_as_unknown_keys() -> None:
    problems = problems_of(
        '[deploy]\npattern = "node"\n[vault]\nfile = ".env"\n[project]\ndir = "."\n'
    )
    assert problems == [
        "deploy (line 1): unknown key",
        "vault (line 3): unknown key",
        "project (line 5): unknown key",
    ]


def test_it_imports_nothing_of_rota_but_leaf_modules() -> None:
    code = (
        "import sys, rota.config; print(' '.join(m for m in sys.modules if m.startswith('rota')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    leaves = {"rota", "rota.units", "rota.frequency", "rota.errors", "rota.redact"}
    assert {m for m in out.stdout.split() if not m.startswith("rota.config")} <= leaves
