"""The composition root: every registry filled through entry points, checked at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rota.app import GROUPS, App
from rota.config import parse_config
from rota.engine import Engine
from rota.errors import RegistryError
from rota.model import Finding, Severity
from rota.targets import register as register_targets
from samples import make_task

ROTA = [sys.executable, "-m", "rota"]

# A third-party plugin: a target kind over a real directory, a task that needs it, and an
# output format. It knows rota only through the public names a plugin author would use.
PLUGIN = '''
from pathlib import Path

from rota.errors import TargetUnavailable
from rota.model import Finding, Metric, Severity
from rota.report import Writer
from rota.targets import TargetKind, TargetRequest
from rota.task import task


class Inbox:
    """A directory of queued files."""

    def __init__(self, path):
        self.path = Path(path)

    def waiting(self):
        return sorted(p.name for p in self.path.iterdir())


def open_inbox(req: TargetRequest) -> Inbox:
    path = req.config.plugins.get("extra", {}).get("inbox", "")
    if not Path(path).is_dir():
        raise TargetUnavailable(f"inbox {path} is not a directory")
    return Inbox(path)


def configured(config):
    return None if config.plugins.get("extra", {}).get("inbox") else "[plugins.extra] inbox is not set"


@task(id="extra.inbox", title="Inbox backlog", section="Extra", frequency="hourly",
      priority="low", purpose="p", prerequisites=["x"], procedure=["y"], expected_outcome="z",
      rollback="r", time_estimate="1s", needs=("inbox",), codes=("extra.inbox.backlog",))
def inbox_task(ctx):
    inbox = ctx.target("inbox")
    names = inbox.waiting()
    yield Metric("extra.inbox.files", len(names))
    severity = Severity.WARNING if len(names) > 2 else Severity.OK
    yield Finding("extra.inbox.backlog", severity, f"{len(names)} files waiting",
                  evidence={"oldest": names[0] if names else None})


def lines(report):
    text = "".join(
        f"{t.task_id} {t.status.value} {' '.join(f.message for f in t.findings)}\\n"
        for t in report.tasks
    )
    return text, report.status.exit_code


def register_targets(registry):
    registry.add(TargetKind("inbox", "A directory of queued files.", open_inbox, configured))


def register_tasks(registry):
    registry.add(inbox_task)


def register_writers(registry):
    registry.add(Writer("lines", "One line per task.", lines))
'''


def install_plugin(
    where: Path, entry_points: str, code: str = PLUGIN, name: str = "rota_extra"
) -> Path:
    """``code`` as module ``name``, with a dist-info that declares ``entry_points``: what
    ``pip install`` of a plugin leaves on sys.path."""
    where.mkdir(parents=True, exist_ok=True)
    (where / f"{name}.py").write_text(code)
    dist = where / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    return where


def rota(*args: str, path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), *sys.path])}
    env.pop("ROTA_CONFIG", None)
    return subprocess.run(
        [*ROTA, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


FULL_PLUGIN = """
    [rota.targets]
    extra = rota_extra:register_targets
    [rota.tasks]
    extra = rota_extra:register_tasks
    [rota.writers]
    extra = rota_extra:register_writers
"""


def test_it_registers_every_builtin_through_the_entry_point_groups() -> None:
    app = App()
    assert "monitor.health" in app.tasks and "db.vacuum" in app.tasks
    assert {"postgres", "http", "files", "pgtools", "backups", "alerts"} <= set(app.targets.names())
    assert {"json", "nagios", "prometheus", "markdown", "html"} <= set(app.writers.names())
    assert {"webhook", "slack", "pagerduty", "sendgrid"} <= set(app.channels.names())
    for registry in app.registries.values():
        assert {registry.source_of(name) for name in registry.names()} == {"builtin (rota)"}


def test_a_third_party_plugin_adds_a_target_a_task_and_a_writer_end_to_end(
    tmp_path: Path,
) -> None:
    path = install_plugin(tmp_path / "site", FULL_PLUGIN)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("a.json", "b.json", "c.json"):
        (inbox / name).write_text("{}")
    (tmp_path / "rota.toml").write_text(
        f'[history]\nurl = "sqlite:///{tmp_path}/h.db"\n[plugins.extra]\ninbox = "{inbox}"\n'
    )

    listed = rota("plugins", "--format", "json", path=path, cwd=tmp_path)
    ran = rota("run", "extra.inbox", "--format", "lines", path=path, cwd=tmp_path)

    assert listed.returncode == 0, listed.stderr
    extra = [
        (r["group"], r["name"])
        for r in json.loads(listed.stdout)
        if r["source"] == "extra (rota-extra)"
    ]
    assert extra == [
        ("rota.tasks", "extra.inbox"),
        ("rota.targets", "inbox"),
        ("rota.writers", "lines"),
    ]
    assert ran.stdout == "extra.inbox warning 3 files waiting\n", ran.stderr
    assert ran.returncode == 1  # a warning, as the writer reports it


def test_a_plugin_task_whose_target_is_not_configured_is_skipped_with_the_plugins_reason(
    tmp_path: Path,
) -> None:
    path = install_plugin(tmp_path / "site", FULL_PLUGIN)
    (tmp_path / "rota.toml").write_text(f'[history]\nurl = "sqlite:///{tmp_path}/h.db"\n')

    ran = rota("run", "--all", "--format", "json", path=path, cwd=tmp_path)

    outcome = next(t for t in json.loads(ran.stdout)["tasks"] if t["id"] == "extra.inbox")
    assert outcome["skipped"] == "[plugins.extra] inbox is not set", ran.stderr


def test_a_misspelled_need_fails_at_start_up_with_a_did_you_mean(tmp_path: Path) -> None:
    code = PLUGIN.replace('needs=("inbox",)', 'needs=("postgress",)')
    path = install_plugin(tmp_path / "site", FULL_PLUGIN, code)

    listed = rota("tasks", path=path, cwd=tmp_path)

    assert listed.returncode != 0
    message = listed.stderr.strip()
    assert "extra.inbox" in message and "'postgress'" in message
    assert "did you mean postgres?" in message
    assert "Traceback" not in listed.stderr and len(message.splitlines()) == 1


def test_a_misspelled_need_is_refused_by_an_app_built_by_hand() -> None:
    app = App(plugins=False)
    app.load("rota.targets", register_targets, source="builtin")
    app.load("rota.tasks", lambda r: r.add(make_task("demo.db", needs=("postgress",))), source="me")

    with pytest.raises(
        RegistryError,
        match=r"demo\.db \(me\) needs target kind 'postgress'.*did you mean postgres\?",
    ):
        app.check_pending()


def test_a_misspelled_override_fails_with_a_did_you_mean() -> None:
    cfg = parse_config('[tasks."db.vacum"]\nfrequency = "daily"\n')

    assert App().check(cfg) == ['tasks."db.vacum": no such task; did you mean db.vacuum?']


def test_a_misspelled_channel_type_fails_with_a_did_you_mean() -> None:
    cfg = parse_config(
        '[[alerts.channels]]\nname = "chat"\ntype = "slak"\nurl = "${HOOK}"\n',
        env={"HOOK": "https://hooks.example.com/x"},
    )

    problems = App().check(cfg)

    assert problems == [
        "alerts.channels[0] (chat): type 'slak' is not a channel type; did you mean slack?"
    ]


def test_a_channel_is_held_to_its_own_types_checks_at_start_up() -> None:
    cfg = parse_config(
        '[[alerts.channels]]\nname = "mail"\ntype = "sendgrid"\napi_key = "${KEY}"\n'
        '[[alerts.channels]]\nname = "hook"\ntype = "webhook"\nurl = "${HOOK}"\n',
        env={"KEY": "k" * 20, "HOOK": "ftp://x/y"},
    )

    assert App().check(cfg) == [
        "alerts.channels[0] (mail): a sendgrid channel needs to and sender",
        "alerts.channels[1] (hook): url must be an http:// or https:// URL with a host",
    ]


def test_rota_run_refuses_a_config_that_fails_the_registries_checks(tmp_path: Path) -> None:
    (tmp_path / "rota.toml").write_text(
        f'[history]\nurl = "sqlite:///{tmp_path}/h.db"\n[tasks."db.vacum"]\nenabled = false\n'
    )

    ran = rota("run", "--all", path=tmp_path, cwd=tmp_path)
    checked = rota("config", "check", path=tmp_path, cwd=tmp_path)

    assert ran.returncode == 4 and "did you mean db.vacuum?" in ran.stderr
    assert checked.returncode == 4 and "did you mean db.vacuum?" in checked.stderr + checked.stdout


@pytest.mark.parametrize(
    ("name", "entry_points", "code", "message"),
    [
        (  # pytest's check_pending: a hook for nothing that exists
            "rota_extra",
            "[rota.task]\nextra = rota_extra:register_tasks\n",
            PLUGIN,
            r"'rota\.task', which rota does not read; did you mean rota\.tasks\?",
        ),
        (
            "rota_empty",
            "[rota.writers]\nempty = rota_empty:register\n",
            "def register(registry):\n    pass\n",
            r"plugin empty \(rota-empty\) registered nothing in rota\.writers",
        ),
        (
            "rota_broken",
            "[rota.tasks]\nbroken = rota_broken:register\n",
            "import no_such_module_anywhere\n",
            r"plugin broken \(rota-broken\) failed to load: No module named",
        ),
    ],
    ids=["unknown-group", "registers-nothing", "fails-to-import"],
)
def test_a_plugin_that_cannot_work_stops_the_app_naming_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    entry_points: str,
    code: str,
    message: str,
) -> None:
    monkeypatch.syspath_prepend(str(install_plugin(tmp_path, entry_points, code, name)))

    with pytest.raises(RegistryError, match=message):
        App()


def test_every_group_the_app_reads_is_one_rota_declares_for_its_builtins() -> None:
    from importlib.metadata import distribution

    declared = {ep.group for ep in distribution("rota").entry_points if ep.name == "builtin"}
    assert declared == set(GROUPS)


def test_a_task_that_yields_a_code_it_did_not_declare_fails_under_the_contract() -> None:
    def run(ctx):  # type: ignore[no-untyped-def]
        yield Finding("demo.declared", Severity.OK, "fine")
        yield Finding("demo.surprise", Severity.OK, "not in codes")

    t = make_task("demo.codes", run, codes=("demo.declared",))

    strict = Engine(parse_config(""), strict=True).run_one(t)
    lax = Engine(parse_config(""), strict=False).run_one(t)

    assert strict.status is Severity.UNKNOWN
    assert "yielded finding code 'demo.surprise', which it does not declare" in (strict.error or "")
    assert [f.code for f in lax.findings] == ["demo.declared", "demo.surprise"]


def test_the_test_suite_runs_every_task_under_the_codes_contract() -> None:
    assert os.environ.get("ROTA_STRICT") == "1"
    assert Engine(parse_config("")).strict


def test_a_task_that_opens_a_target_it_does_not_need_is_unknown_with_the_reason() -> None:
    def run(ctx):  # type: ignore[no-untyped-def]
        ctx.target("pgtools")
        yield Finding("demo.never", Severity.OK, "not reached")

    out = Engine(parse_config("")).run_one(make_task("demo.sneaky", run, codes=("demo.never",)))

    assert out.status is Severity.UNKNOWN
    assert out.error == "demo.sneaky opens target 'pgtools' without declaring it in needs"
