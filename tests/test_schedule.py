"""Frequencies, maintenance windows and due times."""

from datetime import UTC, datetime, timedelta

import pytest

from rota.frequency import Frequency, Window
from rota.schedule import due_info
from samples import make_task

T = make_task("x.y", frequency="weekly")


class Rec:
    def __init__(self, started_at: datetime, status: str = "ok") -> None:
        self.started_at = started_at
        self.status = status


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_it_adds_calendar_months_for_monthly_and_quarterly() -> None:
    jan31 = datetime(2026, 1, 31, 3, 0, tzinfo=UTC)
    assert Frequency.parse("monthly").next_after(jan31) == datetime(2026, 2, 28, 3, 0, tzinfo=UTC)
    assert Frequency.parse("quarterly").next_after(jan31) == datetime(2026, 4, 30, 3, 0, tzinfo=UTC)
    assert Frequency.parse("annually").next_after(jan31) == datetime(2027, 1, 31, 3, 0, tzinfo=UTC)


def test_it_understands_every_and_cron() -> None:
    assert Frequency.parse("every 6h").next_after(NOW) == NOW + timedelta(hours=6)
    assert Frequency.parse("0 3 * * 0").next_after(NOW) == datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def test_it_rejects_unknown_frequencies_with_the_choices() -> None:
    with pytest.raises(ValueError, match="daily, weekly, monthly"):
        Frequency.parse("fortnightly")


def test_a_task_never_run_is_due_now() -> None:
    d = due_info(T, frequency="weekly", grace=None, last_run=None, last_success=None, now=NOW)
    assert d.is_due and d.state == "never" and d.next_due is None


def test_due_is_last_success_plus_frequency_and_overdue_after_grace() -> None:
    last = Rec(NOW - timedelta(days=8))
    d = due_info(T, frequency="weekly", grace=None, last_run=last, last_success=last, now=NOW)  # type: ignore[arg-type]
    assert d.next_due == NOW - timedelta(days=1)
    assert d.overdue_s == 86400
    assert d.state == "due"  # weekly grace is one day; exactly one day late is still "due"
    d2 = due_info(T, frequency="weekly", grace="1h", last_run=last, last_success=last, now=NOW)  # type: ignore[arg-type]
    assert d2.state == "overdue"
    recent = Rec(NOW - timedelta(days=2))
    d3 = due_info(T, frequency="weekly", grace=None, last_run=recent, last_success=recent, now=NOW)  # type: ignore[arg-type]
    assert not d3.is_due and d3.state == "ok"


def test_a_window_in_a_time_zone_contains_its_local_hours() -> None:
    w = Window.parse("Sun 02:00-05:00 Europe/Berlin")
    # Sunday 2026-11-29 02:30 in Berlin (CET, UTC+1) is 01:30 UTC.
    assert w.contains(datetime(2026, 11, 29, 1, 30, tzinfo=UTC))
    assert not w.contains(datetime(2026, 11, 29, 4, 30, tzinfo=UTC))
    assert w.next_open(NOW) == datetime(2026, 11, 29, 2, 0, tzinfo=w.tz)


def test_a_window_may_cross_midnight() -> None:
    w = Window.parse("Mon-Fri 22:00-02:00 UTC")
    assert w.contains(datetime(2026, 11, 27, 23, 0, tzinfo=UTC))  # Friday night
    assert w.contains(datetime(2026, 11, 28, 1, 0, tzinfo=UTC))  # Saturday early, Friday's window
    assert not w.contains(datetime(2026, 11, 28, 23, 0, tzinfo=UTC))  # Saturday night
    assert w.closes_at(datetime(2026, 11, 28, 1, 0, tzinfo=UTC)) == datetime(
        2026, 11, 28, 2, 0, tzinfo=w.tz
    )


def test_an_all_day_window_is_always_open() -> None:
    w = Window.parse("daily 00:00-00:00 UTC")
    assert w.contains(NOW) and w.length == timedelta(days=1)


@pytest.mark.parametrize("text", ["Sun 02:00 UTC", "Funday 02:00-03:00 UTC", "Sun 25:00-26:00 UTC"])
def test_it_rejects_malformed_windows(text: str) -> None:
    with pytest.raises(ValueError):
        Window.parse(text)


def test_named_frequencies_become_spread_cron_lines() -> None:
    daily_a = Frequency.parse("daily").to_cron(salt="a.b")
    daily_b = Frequency.parse("daily").to_cron(salt="c.d")
    assert daily_a.endswith("* * *") and daily_a != daily_b
    assert Frequency.parse("quarterly").to_cron(salt="x").endswith(" 1 1,4,7,10 *")


def _export(fmt: str, frequency: str) -> dict[str, str]:
    from rota import schedule_export as se
    from rota.config import Config

    tasks = [make_task("demo.often", frequency=frequency), make_task("demo.daily")]
    return se.render(fmt, se.jobs(tasks, Config(), missing=lambda needs: None))


@pytest.mark.parametrize("fmt", ["cron", "k8s"])
def test_export_refuses_a_frequency_cron_cannot_express_and_names_the_format_that_can(
    fmt: str,
) -> None:
    from rota.errors import UsageError

    with pytest.raises(UsageError, match=r"demo\.often \(every 90m\).*--format systemd"):
        _export(fmt, "every 90m")
    with pytest.raises(UsageError):
        _export(fmt, "every 5h")  # */5 restarts at midnight: 20:00 then 00:00


def test_export_writes_a_monotonic_systemd_timer_for_an_uneven_period() -> None:
    files = _export("systemd", "every 90m")
    timer = files["rota-demo-often.timer"]
    assert "OnUnitActiveSec=5400s" in timer and "OnCalendar" not in timer
    assert "OnCalendar=" in files["rota-demo-daily.timer"]


@pytest.mark.parametrize("frequency", ["every 15m", "every 2h", "every 1d", "hourly", "monthly"])
def test_export_keeps_frequencies_cron_repeats_exactly(frequency: str) -> None:
    assert "demo.often" in _export("cron", frequency)["rota.cron"]
