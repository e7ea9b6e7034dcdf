"""The rota.toml reference, built from the configuration models' field descriptions.

``rota docs`` writes it next to the runbook pages; tests hold it complete (every key a
user can write appears with its default and meaning), so it cannot drift from the code.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

from rota.config import Config, TaskOverride

__all__ = ["reference_markdown"]


def reference_markdown() -> str:
    """Every key rota reads, section by section; arrays of tables as ``[[section.key]]``."""
    lines = ["# rota.toml reference", "", "Every key rota reads, its default and meaning.", ""]

    def walk(model: type[BaseModel], heading: str) -> None:
        rows: list[tuple[str, str, str]] = []
        subs: list[tuple[str, type[BaseModel]]] = []
        path = heading.strip("[]")
        for name, f in model.model_fields.items():
            if f.exclude:
                continue
            key = f.alias or name
            ann = _optional_of(f.annotation)
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                subs.append((f"[{path}.{key}]" if path else f"[{key}]", ann))
                continue
            item = _table_of(ann)
            if item is not None:
                subs.append((f"[[{path}.{key}]]", item))
                continue
            default = (
                f.get_default(call_default_factory=True) if not f.is_required() else "required"
            )
            rows.append((key, _show_default(default), f.description or ""))
        if rows:
            lines.extend(
                [f"## {heading}", "", "| key | default | meaning |", "| --- | --- | --- |"]
            )
            lines.extend(f"| `{k}` | {d} | {desc} |" for k, d, desc in rows)
            lines.append("")
        for sub_heading, sub in subs:
            walk(sub, sub_heading)

    for name, f in Config.model_fields.items():
        ann = f.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            walk(ann, f"[{name}]")
    lines.extend(['## [tasks."TASK-ID"]', "", "| key | default | meaning |", "| --- | --- | --- |"])
    for name, f in TaskOverride.model_fields.items():
        lines.append(f"| `{name}` | {_show_default(f.default)} | {f.description} |")
    lines.extend(["", "## [plugins.NAME]", "", Config.model_fields["plugins"].description or ""])
    return "\n".join(lines) + "\n"


def _optional_of(ann: Any) -> Any:
    """``Model`` for an optional table (``Model | None``); any other annotation as it is."""
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if isinstance(ann, types.UnionType) and len(args) == 1:
        return args[0]
    return ann


def _table_of(ann: Any) -> type[BaseModel] | None:
    """The model of a ``list[Model]`` field (a TOML array of tables), else None."""
    args = typing.get_args(ann) if typing.get_origin(ann) is list else ()
    if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0]
    return None


def _show_default(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "—"
    return f"`{value!r}`" if not isinstance(value, str) else f'`"{value}"`'
