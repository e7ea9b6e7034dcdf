"""The JSON writer: rota's public, machine-readable run report.

The shape is ``RunReport.to_dict()`` and is documented field by field in
``docs/json-output.md``; ``tests/test_report_json.py`` fails when the two drift. This module
only makes the encoding stable and safe: two-space indent, non-ASCII kept, key order as
documented, and evidence values that ``json`` cannot encode (datetimes, Decimals, paths,
sets, bytes, non-finite floats) turned into plain JSON instead of an exception.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import ipaddress
import json
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any

from rota.model import RunReport


def render_json(report: RunReport) -> str:
    """The run report as a JSON document (ends with a newline)."""
    return dumps(report.to_dict()) + "\n"


def dumps(value: Any) -> str:
    """Encode ``value`` the way every rota JSON output is encoded."""
    return json.dumps(clean(value), indent=2, ensure_ascii=False, default=json_default)


def clean(value: Any) -> Any:
    """Replace what ``json`` would encode wrongly rather than fail on.

    Non-finite floats would come out as ``NaN``/``Infinity``, which is not JSON; they become
    ``null``. Mapping keys that are not strings (tuples would raise) become strings.
    Everything else is left to :func:`json_default`.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, Mapping):
        return {_key(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, set | frozenset):
        return [clean(v) for v in sorted(value, key=repr)]
    return value


def json_default(obj: Any) -> Any:
    """``default=`` hook: a JSON value for the types evidence commonly carries."""
    if isinstance(obj, dt.datetime | dt.date | dt.time):
        return obj.isoformat()
    if isinstance(obj, dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, Decimal):
        return _decimal(obj)
    if isinstance(obj, Enum):
        return clean(obj.value)
    if isinstance(obj, PurePath | uuid.UUID):
        return str(obj)
    if isinstance(obj, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(obj)
    if isinstance(obj, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return str(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        raw = bytes(obj)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode("ascii")
    if isinstance(obj, set | frozenset):
        return clean(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return clean(dataclasses.asdict(obj))
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return clean(to_dict())
    # Evidence must never make a report unwritable: the repr is better than no report.
    return str(obj)


def _decimal(d: Decimal) -> int | float | None:
    if not d.is_finite():
        return None
    if d == d.to_integral_value():
        return int(d)
    return float(d)


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, Enum):
        return str(k.value)
    if k is None or isinstance(k, bool):
        return json.dumps(k)
    return str(k)
