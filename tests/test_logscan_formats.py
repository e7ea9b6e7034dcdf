from datetime import UTC

from rota.logscan.formats import (
    CustomFormat,
    TimeReader,
    parse_duration_ms,
    parse_json,
    parse_text,
)


def test_it_reads_json_lines_with_any_duration_unit():
    rec = parse_json(
        '{"time":"2026-11-28T10:00:01Z","level":"ERROR","msg":"API request","method":"GET",'
        '"path":"/a/1","status":503,"duration":"1.5s"}'
    )
    assert rec is not None and rec.is_error and rec.level == "error"
    assert (rec.method, rec.path, rec.status, rec.duration_ms) == ("GET", "/a/1", 503, 1500.0)
    rec2 = parse_json('{"ts":1764324001000,"level":50,"message":"x","duration_us":250}')
    assert rec2 is not None and rec2.level == "error" and rec2.duration_ms == 0.25
    assert parse_json("{not json") is None
    assert parse_duration_ms("350µs") == 0.35 and parse_duration_ms("12.3ms") == 12.3


def test_it_reads_plain_text_with_level_and_component():
    rec = parse_text("2026-11-28T10:00:01.123Z ERROR [api] Failed to fetch: timeout")
    assert rec is not None
    assert (rec.level, rec.component, rec.message) == ("error", "api", "Failed to fetch: timeout")
    rec = parse_text("2026-11-28 10:00:01,123 WARNING dfs.DataNode: slow")
    assert rec is not None and rec.level == "warn" and rec.component == "dfs.DataNode"
    assert parse_text("garbage without a timestamp") is None


def test_it_reads_a_custom_format_described_in_config():
    fmt = CustomFormat(
        r'(?P<ip>\S+) \S+ \S+ \[(?P<ts>[^\]]+)\] "(?P<method>\w+) (?P<path>\S+) [^"]*" '
        r"(?P<status>\d{3}) \S+ (?P<duration>\d+)",
        time_format="%d/%b/%Y:%H:%M:%S %z",
        duration_unit="us",
    )
    rec = fmt.parse('1.2.3.4 - - [28/Nov/2026:10:00:01 +0000] "GET /x?a=1 HTTP/1.1" 502 12 3500')
    assert rec is not None and rec.status == 502 and rec.duration_ms == 3.5 and rec.is_error
    assert TimeReader().hour(rec.ts) == "2026-11-28T10"


def test_it_turns_timestamps_into_utc_hours():
    t = TimeReader(UTC)
    assert t.hour("2026-11-28T23:30:00+02:00") == "2026-11-28T21"
    assert t.hour("2026-11-28 10:59:59,5") == "2026-11-28T10"
    assert t.epoch("2026-11-28T00:00:00Z") == 1795824000.0
    assert t.hour("not a time") is None


def test_epochs_of_utc_timestamps_are_exactly_what_datetime_gives():
    import random
    from datetime import datetime

    from rota.logscan.formats import TimeReader

    reader = TimeReader()
    rng = random.Random(2)
    for _ in range(20000):
        ts = (
            f"{rng.randint(1900, 2100):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 31):02d}T"
            f"{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}:{rng.randint(0, 59):02d}"
        )
        if rng.random() < 0.8:
            ts += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 6)))
        ts += "Z"
        try:
            want: float | None = datetime.fromisoformat(ts).timestamp()
        except ValueError:
            want = None  # Feb 30, hour 25, minute 61: not a time
        assert reader.epoch(ts) == want, ts


def test_it_reads_python_json_logger_and_serilog_clef_lines():
    rec = parse_json(
        '{"asctime": "2026-12-04 10:00:01,123", "levelname": "WARNING", "name": "app.db",'
        ' "message": "slow query"}'
    )
    assert rec is not None and (rec.ts, rec.level, rec.component) == (
        "2026-12-04 10:00:01,123",
        "warn",
        "app.db",
    )
    clef = parse_json(
        '{"@t":"2026-12-04T10:00:01.1234567Z","@mt":"User {User} logged in","@l":"Error",'
        '"User":"alice","SourceContext":"Acme.Auth"}'
    )
    assert clef is not None and clef.is_error and clef.message == "User {User} logged in"
    assert clef.component == "Acme.Auth"
