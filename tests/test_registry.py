"""The registry: built-ins and plugins through one entry point group, validated at start-up."""

from dataclasses import replace
from pathlib import Path

import pytest

from rota.docs import missing_template_fields
from rota.errors import RegistryError, UsageError
from rota.registry import App, Registry, validate_task
from rota.task import TEMPLATE_FIELDS
from samples import make_task


def make(id: str = "demo.thing", **kw: object):  # type: ignore[no-untyped-def]
    return make_task(id, **kw)


def test_it_registers_the_builtins_through_the_entry_point() -> None:
    reg = App().registry
    ids = [t.id for t in reg]
    assert "monitor.health" in ids and "cache.review" in ids
    assert all(t.source == "builtin (rota)" for t in reg)


def test_every_registered_task_has_every_runbook_template_field() -> None:
    for t in App().registry:
        assert missing_template_fields(t) == [], t.id
        for name in TEMPLATE_FIELDS:
            assert getattr(t, name), f"{t.id} lacks {name}"


def test_it_loads_a_third_party_plugin_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rota_extra.py").write_text(
        "from rota.task import task\n"
        "def _run(ctx):\n    yield from ()\n"
        "T = task(id='extra.ping', title='Ping', section='Extra', frequency='daily', priority='low',"
        " purpose='p', prerequisites=['x'], procedure=['y'], expected_outcome='z', rollback='r',"
        " time_estimate='1s')(_run)\n"
        "def register(registry):\n    registry.add(T)\n"
    )
    dist = tmp_path / "rota_extra-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rota-extra\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[rota.tasks]\nextra = rota_extra:register\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = App().registry
    assert reg.get("extra.ping").source == "extra (rota-extra)"
    assert "monitor.health" in reg


def test_it_refuses_a_duplicate_id_naming_both_sources() -> None:
    reg = Registry()
    reg.load(lambda r: r.add(make()), source="first")
    with pytest.raises(
        RegistryError, match="duplicate task id 'demo.thing': registered by first and by second"
    ):
        reg.load(lambda r: r.add(make()), source="second")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "Vacuum"}, "id must be dotted lower case"),
        ({"purpose": ""}, "runbook field 'purpose' is empty"),
        ({"procedure": []}, "runbook field 'procedure' is empty"),
        ({"priority": "urgent"}, "priority 'urgent' is not one of"),
        ({"frequency": "sometimes"}, "frequency:"),
        ({"time_estimate": "soon"}, "time_estimate:"),
    ],
)
def test_it_refuses_a_malformed_task_with_the_reason(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(RegistryError, match=message):
        Registry().add(make(**changes))


def test_it_refuses_something_that_is_not_a_task() -> None:
    with pytest.raises(RegistryError, match="not a rota Task"):
        Registry().add("db.vacuum")  # type: ignore[arg-type]


def test_a_well_formed_task_has_no_problems() -> None:
    assert validate_task(make()) == []
    assert validate_task(replace(make(), rollback="")) == ["runbook field 'rollback' is empty"]


def test_it_selects_by_id_and_prefix_and_suggests_on_typos() -> None:
    reg = Registry()
    for i in ("db.vacuum", "db.analyze", "logs.cleanup"):
        reg.add(make(i))
    assert [t.id for t in reg.select(["db"])] == ["db.vacuum", "db.analyze"]
    assert [t.id for t in reg.select(["db.*", "logs.cleanup"])] == [
        "db.vacuum",
        "db.analyze",
        "logs.cleanup",
    ]
    with pytest.raises(UsageError, match="did you mean db.vacuum"):
        reg.select(["db.vacum"])
