"""The JSON writer, and docs/json-output.md as its schema: the two must never drift."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from rota.model import AlertSent, Finding, Metric, Severity, StepStatus
from rota.report.jsonout import render_json
from rota.task import Context
from samples import report_with, weekly_report

DOC = Path(__file__).resolve().parent.parent / "docs" / "json-output.md"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d)?$")


# -- the documented shape, read from the doc itself ------------------------------------------
@dataclass
class Field:
    name: str
    types: list[str]  # "string", "timestamp", "array of Task", '"ok"', ...


def documented_objects() -> dict[str, list[Field]]:
    """``{"Run": [Field(...), ...], "Task": [...], ...}`` from the doc's Field tables."""
    objects: dict[str, list[Field]] = {}
    heading = ""
    in_table = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            heading, in_table = line[3:].strip(), False
        elif line.startswith("| Field | Type |"):
            in_table = True
            objects[heading] = []
        elif in_table and line.startswith("| ---"):
            continue
        elif in_table and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            name = re.fullmatch(r"`([a-z_]+)`", cells[0])
            assert name, f"field cell must be one `name`: {line!r}"
            types = [t.strip().strip("`") for t in cells[1].split(" or ")]
            objects[heading].append(Field(name.group(1), types))
        else:
            in_table = False
    return objects


def conventional_detail_keys() -> set[str]:
    text = DOC.read_text(encoding="utf-8").split("Conventional keys of a step's `detail`")[1]
    text = text.split("\n## ")[0]
    pairs = re.findall(r"^- `([a-z_]+)`(?: or `([a-z_]+)`)?", text, re.M)
    return {key for pair in pairs for key in pair if key}


def violations(value: Any, types: list[str], objects: dict[str, list[Field]], at: str) -> list[str]:
    """Why ``value`` does not have one of ``types`` (empty when it does)."""
    for t in types:
        if _matches(value, t, objects, at) == []:
            return []
    problems = [p for t in types for p in _matches(value, t, objects, at)]
    return problems or [f"{at}: {value!r} is not {' or '.join(types)}"]


def _matches(value: Any, t: str, objects: dict[str, list[Field]], at: str) -> list[str]:
    if t.startswith('"'):
        return [] if value == json.loads(t) else [f"{at}: {value!r} is not {t}"]
    if t.startswith("array of "):
        if not isinstance(value, list):
            return [f"{at}: expected an array"]
        kind = t.removeprefix("array of ")
        return [
            p for i, item in enumerate(value) for p in conforms(item, kind, objects, f"{at}[{i}]")
        ]
    ok = {
        "string": isinstance(value, str),
        "timestamp": isinstance(value, str) and bool(TIMESTAMP.match(value)),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "object": isinstance(value, dict),
        "null": value is None,
    }
    assert t in ok, f"the doc uses a type this test does not know: {t!r}"
    return [] if ok[t] else [f"{at}: {value!r} is not {t}"]


def conforms(obj: Any, kind: str, objects: dict[str, list[Field]], at: str = "$") -> list[str]:
    if not isinstance(obj, dict):
        return [f"{at}: expected an object ({kind})"]
    fields = objects[kind]
    problems = []
    if list(obj) != [f.name for f in fields]:
        problems.append(f"{at}: keys {list(obj)} != documented {[f.name for f in fields]}")
    for f in fields:
        if f.name in obj:
            problems += violations(obj[f.name], f.types, objects, f"{at}.{f.name}")
    return problems


@pytest.fixture(scope="module")
def objects() -> dict[str, list[Field]]:
    return documented_objects()


# -- doc and output agree --------------------------------------------------------------------
def test_the_doc_documents_every_kind_of_object(objects: dict[str, list[Field]]) -> None:
    assert list(objects) == ["Run", "Task", "Finding", "Metric", "Step", "Alert"]
    assert all(objects.values())


def test_it_documents_every_field_the_output_has_in_output_order(
    objects: dict[str, list[Field]],
) -> None:
    rep = weekly_report()
    rep.tasks[0].alerts.append(
        AlertSent("ops-slack", "sent", Severity.OK, Severity.CRITICAL, "HTTP 200")
    )
    out = json.loads(render_json(rep))
    task = out["tasks"][0]
    seen = {
        "Run": list(out),
        "Task": list(task),
        "Finding": list(task["findings"][0]),
        "Metric": list(task["metrics"][0]),
        "Step": list(task["steps"][0]),
        "Alert": list(task["alerts"][0]),
    }
    documented = {kind: [f.name for f in fields] for kind, fields in objects.items()}
    assert seen == documented


@pytest.mark.parametrize("mode", ["check", "apply"])
def test_the_output_validates_against_the_documented_shape(
    objects: dict[str, list[Field]], mode: str
) -> None:
    out = json.loads(render_json(weekly_report(mode)))
    assert conforms(out, "Run", objects) == []
    assert {s["status"] for t in out["tasks"] for s in t["steps"]} <= {"planned", "done", "failed"}


def test_the_validator_rejects_output_that_drifted(objects: dict[str, list[Field]]) -> None:
    out = json.loads(render_json(weekly_report()))
    out["tasks"][0]["findings"][0]["severity"] = "fatal"
    del out["tasks"][1]["metrics"][0]["unit"]
    out["started_at"] = "last Monday"
    problems = conforms(out, "Run", objects)
    assert any(".findings[0].severity" in p for p in problems)
    assert any(".metrics[0]: keys" in p for p in problems)
    assert any("$.started_at" in p for p in problems)


def test_the_documented_example_validates_against_the_documented_shape(
    objects: dict[str, list[Field]],
) -> None:
    example = DOC.read_text(encoding="utf-8").split("```json\n")[1].split("```")[0]
    assert conforms(json.loads(example), "Run", objects) == []


def test_it_documents_exactly_the_values_status_fields_take(
    objects: dict[str, list[Field]],
) -> None:
    def values(kind: str, name: str) -> set[str]:
        (field,) = [f for f in objects[kind] if f.name == name]
        return {json.loads(t) for t in field.types}

    severities = {s.value for s in Severity}
    assert values("Run", "status") == severities
    assert values("Task", "status") == severities
    assert values("Finding", "severity") == severities
    assert values("Step", "status") == {s.value for s in StepStatus}
    assert values("Run", "mode") == {"check", "apply"}


def test_it_documents_the_detail_keys_that_context_action_writes() -> None:
    ctx = Context(task=None, config=None)  # type: ignore[arg-type]
    planned = ctx.action(
        "VACUUM", lambda: None, reason="bloat", lock="SHARE UPDATE EXCLUSIVE", estimate_s=3
    )
    ctx.apply = True

    def boom() -> None:
        raise RuntimeError("lock timeout")

    failed = ctx.action("VACUUM FULL", boom, reason="bloat", sql="VACUUM FULL t;")
    written = set(planned.detail) | set(failed.detail)
    assert written <= conventional_detail_keys()


# -- encoding --------------------------------------------------------------------------------
def test_it_is_indented_stable_and_ends_with_a_newline() -> None:
    first, second = render_json(weekly_report()), render_json(weekly_report())
    assert first == second
    assert first.endswith("}\n")
    assert first.splitlines()[1].startswith('  "rota": ')


def test_it_keeps_non_ascii_characters() -> None:
    text = render_json(report_with(Finding("x.y", Severity.WARNING, "latency 3.1× — µs")))
    assert "3.1× — µs" in text
    assert "\\u" not in text


def test_it_serialises_datetimes_decimals_and_paths_in_evidence() -> None:
    out = json.loads(render_json(weekly_report()))
    evidence = out["tasks"][1]["findings"][0]["evidence"]
    assert evidence["first_seen"] == "2025-01-06T00:12:09+00:00"
    assert evidence["average_7d"] == 100.5
    assert evidence["file"] == "/var/log/rylie/app.log"
    assert evidence["top_groups"][0] == {"fingerprint": "OpenAI timeout after <n>ms", "count": 201}


def test_it_serialises_other_common_evidence_types() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "<opaque thing>"

    evidence: dict[Any, Any] = {
        "day": date(2025, 1, 6),
        "age": timedelta(hours=1, seconds=30),
        "rows": Decimal("42"),
        "tables": {"public.users"},
        "id": UUID("12345678-1234-5678-1234-567812345678"),
        "raw": b"\xff\xfe",
        "text": b"plain",
        ("schema", "table"): "tuple key",
        "other": Opaque(),
    }
    out = json.loads(render_json(report_with(Finding("x.y", Severity.OK, "m", evidence=evidence))))
    got = out["tasks"][0]["findings"][0]["evidence"]
    assert got["day"] == "2025-01-06"
    assert got["age"] == 3630.0
    assert got["rows"] == 42 and isinstance(got["rows"], int)
    assert got["tables"] == ["public.users"]
    assert got["id"] == "12345678-1234-5678-1234-567812345678"
    assert got["raw"] == "base64://4="
    assert got["text"] == "plain"
    assert got["('schema', 'table')"] == "tuple key"
    assert got["other"] == "<opaque thing>"


def test_it_writes_nan_and_infinity_as_null_so_the_output_stays_json() -> None:
    report = report_with(
        Finding("x.y", Severity.OK, "m", evidence={"ratio": math.nan, "big": Decimal("Infinity")})
    )
    report.tasks[0].metrics.append(Metric("ratio", math.inf))

    def refuse(name: str) -> None:
        raise AssertionError(f"non-JSON constant {name} in output")

    out = json.loads(render_json(report), parse_constant=refuse)
    assert out["tasks"][0]["findings"][0]["evidence"] == {"ratio": None, "big": None}
    assert out["tasks"][0]["metrics"][0]["value"] is None


def test_it_keeps_timestamps_with_their_offset() -> None:
    report = weekly_report()
    report.started_at = datetime(2025, 1, 6, 4, 0, tzinfo=UTC).astimezone()
    out = json.loads(render_json(report))
    assert TIMESTAMP.match(out["started_at"])
