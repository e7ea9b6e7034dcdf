"""The time in a backup's file name, written the ways people write it.

rota names its own backups ``rylie_full_20260301T020000Z.dump.gz``; backups made by cron
jobs and scripts carry ``date``'s output in every shape: ``rylie_full_20261204_110000``,
``backup-20261204-0300``, ``db_2026-12-04``, ``app.2026-12-04T03-00-00``,
``pg_dump_1764817200`` (epoch seconds). :func:`read` finds the most precise of them.

A digit run is read as a unit and only as a whole (``(?<!\\d)...(?!\\d)``): eight digits
are a date only when they are a valid one, and a run of seven or fifteen digits (a size,
a sequence number) is never cut into a date. Every field is range-checked; among the
readings left the longest wins, so ``db_20261204_full_20261205_030000`` is 5 December,
03:00. Epoch seconds must be ten digits from 2015 to 2033 (``1\\d{9}``), so a byte count
under 1.4 GB or a ``YYYYmmddHH`` run (``20...``) is not taken for one.

A zone in the name (``Z``, ``UTC``, ``+0100``, ``-05:00``) wins; otherwise the name is in
``[backups] name_timezone``: "local" (the machine's zone, as ``date`` writes it), "UTC" or
an IANA name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)

# A fraction of a second is passed over only on the way to a zone (isoformat's
# "03:00:00.123456+00:00"); anywhere else ".1" may be a sequence number.
_ZONE = r"(?:[.,]\d{1,9}(?=Z|UTC|[+-]\d))?(?P<zone>Z|UTC|[+-]\d{2}:?\d{2})?"
# YYYYmmdd, then a time: glued on (HH, HHMM, HHMMSS), after "T" (HHMM[SS]) or after "_"/"-"
# (HHMM[SS]; two digits after a separator are too often a sequence number).
_COMPACT = re.compile(
    r"(?<!\d)(?P<Y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"
    r"(?:"
    r"(?P<H1>\d{2})(?:(?P<M1>\d{2})(?P<S1>\d{2})?)?"
    r"|[T_-](?P<H2>\d{2})(?P<M2>\d{2})(?P<S2>\d{2})?"
    r")?"
    r"(?!\d)" + _ZONE + r"(?!\d)"
)
# YYYY-mm-dd (or _ or .), then optionally a time: HH:MM[:SS] with -, : or . between, or
# HHMM[SS] glued, after T, _, a space, - (or . for the separated form).
_EXTENDED = re.compile(
    r"(?<!\d)(?P<Y>\d{4})(?P<ds>[-_.])(?P<m>\d{2})(?P=ds)(?P<d>\d{2})"
    r"(?:"
    r"[T_ .-](?P<H1>\d{2})(?P<ts>[-:.])(?P<M1>\d{2})(?:(?P=ts)(?P<S1>\d{2}))?"
    r"|[T_ -](?P<H2>\d{2})(?P<M2>\d{2})(?P<S2>\d{2})?"
    r")?"
    r"(?!\d)" + _ZONE + r"(?!\d)"
)
_EPOCH = re.compile(r"(?<!\d)(1\d{9})(?!\d)")
_EPOCH_FROM = 1420070400  # 2015-01-01: smaller ten-digit runs are sizes or ids, not times


@dataclass(frozen=True)
class NameTime:
    """What a file name says about when the backup was taken."""

    when: datetime  # in UTC
    text: str  # the part of the name read ("20261204_110000")
    precision: timedelta  # a second; a minute or an hour when seconds are left out; a day
    zone: str  # from the name ("Z", "+0100"), "epoch", or the configured zone's name


def zone(name: str) -> tzinfo | None:
    """The zone of ``[backups] name_timezone`` ("local" is None: the machine's). Raises
    ValueError for a name the zone database does not know."""
    if name.lower() == "local":
        return None
    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f'unknown time zone {name!r}: use "local", "UTC" or an IANA name such as "Europe/Berlin"'
        ) from None


def read(name: str, tz: str = "local") -> NameTime | None:
    """The most precise valid timestamp in ``name``, or None when it carries none."""
    where = zone(tz)
    found: list[tuple[int, int, NameTime]] = []
    for rx in (_COMPACT, _EXTENDED):
        for m in rx.finditer(name):
            got = _calendar(m, where, tz)
            if got is not None:
                found.append((len(got.text), m.start(), got))
    for m in _EPOCH.finditer(name):
        n = int(m.group(1))
        if n >= _EPOCH_FROM:
            t = datetime.fromtimestamp(n, UTC)
            # Calendar readings win ties: ten digits are as long as "2026-12-04".
            found.append((len(m.group(0)) - 1, m.start(), NameTime(t, m.group(1), SECOND, "epoch")))
    if not found:
        return None
    return max(found, key=lambda f: (f[0], f[1]))[2]


def _calendar(m: re.Match[str], where: tzinfo | None, tz: str) -> NameTime | None:
    g = m.groupdict()
    hour, minute, second = (g["H1"] or g["H2"]), (g["M1"] or g["M2"]), (g["S1"] or g["S2"])
    year = int(g["Y"])
    if not 2000 <= year <= 2099:
        return None
    try:
        day = datetime(year, int(g["m"]), int(g["d"]))
    except ValueError:  # month 13, 30 February...
        return None
    text = m.group(0)
    try:
        naive = day.replace(hour=int(hour or 0), minute=int(minute or 0), second=int(second or 0))
    except ValueError:  # "_2500" is no time of day: a sequence number after the date
        naive, hour, minute, second = day, None, None, None
        text = text[: m.end("d") - m.start()]
        g = {**g, "zone": None}
    if second:
        precision = SECOND
    elif minute:
        precision = timedelta(minutes=1)
    elif hour:
        precision = timedelta(hours=1)
    else:
        precision = DAY
    offset = _offset(g["zone"]) if g["zone"] and hour and minute else None
    if offset is not None:
        when = naive.replace(tzinfo=offset).astimezone(UTC)
        label = g["zone"]
    else:
        if g["zone"]:  # not a zone after all (a sequence number, "-0042"): leave it out
            text = text[: len(text) - len(g["zone"])]
        local = naive.astimezone() if where is None else naive.replace(tzinfo=where)
        when = local.astimezone(UTC)
        label = (local.tzname() or tz) if where is None else tz
    return NameTime(when, text, precision, label)


def _offset(text: str) -> tzinfo | None:
    """``Z``, ``UTC``, ``+0100``, ``-05:30`` as a zone; None when out of range (an hour
    over 14, minutes not a quarter), as a sequence number would be."""
    if text in ("Z", "UTC"):
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 14 or minutes not in (0, 15, 30, 45):
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)
