"""Registries: what is added is validated at once, what is looked up is found or suggested."""

from dataclasses import replace

import pytest

from rota.app import App
from rota.docs import missing_template_fields
from rota.errors import RegistryError, UsageError
from rota.registry import TaskRegistry, validate_task
from rota.task import TEMPLATE_FIELDS
from samples import make_task


def make(id: str = "demo.thing", **kw: object):  # type: ignore[no-untyped-def]
    return make_task(id, **kw)


def test_every_registered_task_has_every_runbook_template_field() -> None:
    for t in App().tasks:
        assert missing_template_fields(t) == [], t.id
        for name in TEMPLATE_FIELDS:
            assert getattr(t, name), f"{t.id} lacks {name}"


def test_it_refuses_a_duplicate_id_naming_both_sources() -> None:
    app = App(plugins=False)
    app.load("rota.tasks", lambda r: r.add(make()), source="first")
    with pytest.raises(
        RegistryError, match="duplicate task 'demo.thing': registered by first and by second"
    ):
        app.load("rota.tasks", lambda r: r.add(make()), source="second")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "Vacuum"}, "id must be dotted lower case"),
        ({"purpose": ""}, "runbook field 'purpose' is empty"),
        ({"procedure": []}, "runbook field 'procedure' is empty"),
        ({"priority": "urgent"}, "priority 'urgent' is not one of"),
        ({"frequency": "sometimes"}, "frequency:"),
        ({"time_estimate": "soon"}, "time_estimate:"),
        ({"codes": ("db.Bloat",)}, "codes must be dotted lower case: 'db.Bloat'"),
    ],
)
def test_it_refuses_a_malformed_task_with_the_reason(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(RegistryError, match=message):
        TaskRegistry().add(make(**changes))


def test_it_refuses_something_that_is_not_a_task() -> None:
    with pytest.raises(RegistryError, match="which it is not .build one with the rota.task.task"):
        TaskRegistry().add("db.vacuum")  # type: ignore[arg-type]


def test_a_well_formed_task_has_no_problems() -> None:
    assert validate_task(make()) == []
    assert validate_task(replace(make(), rollback="")) == ["runbook field 'rollback' is empty"]


def test_it_selects_by_id_and_prefix_and_suggests_on_typos() -> None:
    reg = TaskRegistry()
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
