"""Turning pydantic's validation errors into one line per problem, with key and line."""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel

from rota.config.schema import Config, TaskOverride


def key_at(loc: tuple[Any, ...], text: str) -> str:
    """``loc`` as a dotted key, with its line in ``text`` when it can be found."""
    dotted = ".".join(f'"{p}"' if "." in str(p) else str(p) for p in loc) or "(top level)"
    line = locate(text, [str(p) for p in loc if not isinstance(p, int)])
    return f"{dotted} (line {line})" if line else dotted


def describe(err: Any, text: str) -> str:
    """One pydantic error as one line: the key, its line and what is wrong."""
    loc = tuple("validate" if p == "validate_" else p for p in err["loc"])
    # A failing function-wrapped type reports its inner type in loc; drop such parts.
    loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
    key = key_at(loc, text)
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
