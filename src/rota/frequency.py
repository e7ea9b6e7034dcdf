"""Frequencies and maintenance windows: the calendar arithmetic every component shares.

A leaf module (it imports nothing of rota but :mod:`rota.units`), so the config schema,
the task registry and the engine can all check a frequency or a window without importing
one another. When a task is due is :mod:`rota.schedule`.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rota.units import parse_duration

NAMED = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": None,  # calendar months, see _add_months
    "quarterly": None,
    "annually": None,
    "yearly": None,
}
_MONTHS = {"monthly": 1, "quarterly": 3, "annually": 12, "yearly": 12}
# How late a task may run before it counts as overdue, unless configured.
DEFAULT_GRACE = {
    "hourly": "15m",
    "daily": "2h",
    "weekly": "1d",
    "monthly": "3d",
    "quarterly": "7d",
    "annually": "14d",
    "yearly": "14d",
}
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass(frozen=True)
class Frequency:
    """A parsed frequency: a named period, ``every <duration>``, or a 5-field cron line."""

    text: str
    interval: timedelta | None = None
    months: int = 0
    cron: str | None = None

    @classmethod
    def parse(cls, text: str) -> Frequency:
        t = text.strip().lower()
        if t in _MONTHS:
            return cls(t, months=_MONTHS[t])
        if t in NAMED:
            return cls(t, interval=NAMED[t])
        if t.startswith("every "):
            seconds = parse_duration(t[6:])
            if seconds <= 0:
                raise ValueError(f"{text!r}: the period must be longer than zero")
            return cls(t, interval=timedelta(seconds=seconds))
        if len(t.split()) == 5:
            from croniter import croniter

            if not croniter.is_valid(t):
                raise ValueError(f"{text!r} is not a valid cron expression")
            return cls(t, cron=t)
        raise ValueError(
            f"{text!r} is not a frequency; use daily, weekly, monthly, quarterly, annually, "
            "'every 6h' or a cron expression like '0 3 * * 0'"
        )

    def next_after(self, when: datetime) -> datetime:
        if self.cron:
            from croniter import croniter

            nxt: datetime = croniter(self.cron, when).get_next(datetime)
            return nxt
        if self.months:
            return _add_months(when, self.months)
        assert self.interval is not None
        return when + self.interval

    @property
    def default_grace(self) -> float:
        return parse_duration(DEFAULT_GRACE.get(self.text, "1h"))

    def to_cron(self, *, salt: str, at: time | None = None, weekday: int | None = None) -> str:
        """A cron line for this frequency; the minute is spread by ``salt`` so many tasks
        scheduled "daily" do not all start in the same second."""
        if self.cron:
            return self.cron
        h = zlib.crc32(salt.encode())
        minute = at.minute if at else h % 60
        hour = at.hour if at else 2 + (h >> 8) % 4
        dow = (weekday + 1) % 7 if weekday is not None else 0  # cron: 0 = Sunday
        if self.text == "hourly":
            return f"{minute} * * * *"
        if self.text == "daily":
            return f"{minute} {hour} * * *"
        if self.text == "weekly":
            return f"{minute} {hour} * * {dow}"
        if self.months == 1:
            return f"{minute} {hour} 1 * *"
        if self.months == 3:
            return f"{minute} {hour} 1 1,4,7,10 *"
        if self.months == 12:
            return f"{minute} {hour} 1 1 *"
        assert self.interval is not None
        secs = self.interval.total_seconds()
        if secs < 3600:
            return f"*/{max(1, int(secs // 60))} * * * *"
        if secs < 86400:
            return f"{minute} */{int(secs // 3600)} * * *"
        return f"{minute} {hour} */{max(1, int(secs // 86400))} * *"


def _add_months(when: datetime, months: int) -> datetime:
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    import calendar

    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class Window:
    """A weekly maintenance window in a time zone: ``"Sun 02:00-05:00 Europe/Berlin"``.

    Days: ``daily``, ``Sun``, ``Sat,Sun``, ``Mon-Fri``. A range may cross midnight
    (``22:00-02:00``); it then belongs to the day it starts on.
    """

    text: str
    days: frozenset[int]
    start: time
    end: time
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str) -> Window:
        parts = text.split()
        if len(parts) != 3:
            raise ValueError(
                f"{text!r} is not a window; write e.g. 'Sun 02:00-05:00 UTC' or "
                "'Mon-Fri 22:00-02:00 Europe/Berlin'"
            )
        days_s, range_s, tz_s = parts
        m = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", range_s)
        if not m:
            raise ValueError(f"{range_s!r} is not a time range like 02:00-05:00")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
            raise ValueError(f"{range_s!r} has an impossible time")
        try:
            tz = ZoneInfo(tz_s)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{tz_s!r} is not a known time zone (e.g. UTC, Europe/Berlin)"
            ) from None
        return cls(text, _parse_days(days_s), time(h1, m1), time(h2 % 24, m2), tz)

    @property
    def length(self) -> timedelta:
        s = self.start.hour * 60 + self.start.minute
        e = self.end.hour * 60 + self.end.minute
        return timedelta(minutes=(e - s) % 1440 or 1440)

    def _opening(self, day: datetime) -> datetime:
        return datetime.combine(day.date(), self.start, tzinfo=self.tz)

    def contains(self, when: datetime) -> bool:
        local = when.astimezone(self.tz)
        for back in (0, 1):
            day = local - timedelta(days=back)
            if day.weekday() in self.days:
                opening = self._opening(day)
                if opening <= local < opening + self.length:
                    return True
        return False

    def closes_at(self, when: datetime) -> datetime | None:
        """When the window that contains ``when`` closes (None if ``when`` is outside)."""
        local = when.astimezone(self.tz)
        for back in (0, 1):
            day = local - timedelta(days=back)
            if day.weekday() in self.days:
                opening = self._opening(day)
                if opening <= local < opening + self.length:
                    return opening + self.length
        return None

    def next_open(self, when: datetime) -> datetime:
        """The next opening at or after ``when`` (``when`` itself if inside)."""
        if self.contains(when):
            return when
        local = when.astimezone(self.tz)
        for ahead in range(0, 8):
            day = local + timedelta(days=ahead)
            if day.weekday() in self.days:
                opening = self._opening(day)
                if opening >= local:
                    return opening
        raise AssertionError("a window with days opens within a week")


def _parse_days(text: str) -> frozenset[int]:
    t = text.lower()
    if t in ("daily", "*", "every"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in t.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            i, j = _day(a), _day(b)
            k = i
            while True:
                days.add(k)
                if k == j:
                    break
                k = (k + 1) % 7
        else:
            days.add(_day(part))
    return frozenset(days)


def _day(text: str) -> int:
    key = text[:3]
    if key not in DAYS:
        raise ValueError(f"{text!r} is not a day; use Mon, Tue, ... Sun, 'Mon-Fri' or 'daily'")
    return DAYS.index(key)
