import random
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rota.logscan import reader
from rota.logscan.analyze import LineParser, ParseSettings, analyze_file
from rota.logscan.fastpath import COMPILED, scan_chunk
from rota.logscan.results import Results
from rota.sandbox.logs import generate_big_log, generate_logs

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)

ADVERSARIAL = [
    # the two fast shapes
    '{"time":"2026-11-28T10:00:01.123Z","level":"info","msg":"API request","method":"GET",'
    '"path":"/api/conversations/42","status":200,"duration":"12.3ms","request_id":"a-b"}',
    "2026-11-28T10:00:02.000Z INFO [api] user 42 signed in",
    # JSON error with escaped quotes; level in upper case; level after msg
    '{"time":"2026-11-28T10:00:03Z","level":"error","msg":"bad \\"quoted\\" value 7","err":"x"}',
    '{"time":"2026-11-28T10:00:04Z","level":"ERROR","msg":"upper case level 9"}',
    '{"msg":"API request","level":"info","time":"2026-11-28T10:00:05Z","method":"GET",'
    '"path":"/api/x/5","status":200,"duration":"3.0ms"}',
    # ERROR inside the message of an INFO line: the level token decides (info)
    "2026-11-28T10:00:06.000Z INFO [openai] retrying after ERROR 429 (attempt 2/5)",
    "2026-11-28T10:00:07Z Error [db] mixed case level",
    # near misses of the fast shapes: 5xx, extra key, escaped path, query, digits mid-path
    '{"time":"2026-11-28T10:00:08Z","level":"info","msg":"API request","method":"GET",'
    '"path":"/api/conversations/42","status":503,"duration":"12.3ms"}',
    '{"time":"2026-11-28T10:00:09Z","level":"info","msg":"API request","method":"GET",'
    '"path":"/api/a","status":200,"duration":"2","unit":"s"}',
    '{"time":"2026-11-28T10:00:09Z","level":"info","msg":"API request","method":"GET",'
    '"path":"/api/a","status":200,"duration":"2.5ms","request_id":"x","err":"late"}',
    '{"time":"2026-11-28T10:00:10Z","level":"info","msg":"API request","method":"GET",'
    '"path":"/api/v2/users","status":200,"duration":"1.0ms"}',
    '{"time":"2026-11-28T10:00:10Z","level":"info","msg":"API request","method":"GET",'
    '"path":"/api/v2","status":200,"duration":"1.0ms"}',
    '{"time":"2026-11-28T10:00:11Z","level":"info","msg":"API request","method":"GET",'
    '"path":"/api/x?id=3","status":200,"duration":"1.0ms"}',
    '{"time":"2026-11-28T10:00:11Z","level":"warning","msg":"API request","method":"POST",'
    '"path":"/","status":404,"duration":"0.5ms"}',
    # timestamps the fast path leaves alone: offset, naive, impossible minute
    "2026-11-28T11:00:12+02:00 INFO [api] offset",
    "2026-11-28 10:00:13 WARN [api] naive",
    "2026-11-28T10:61:13Z INFO [api] minute 61",
    "",
    "   ",
    "not a log line at all",
    "2026-11-28T10:00:14Z FATAL [db] out of disk",
]


def _view(res: Results) -> dict[str, Any]:
    out = {}
    for f in fields(res):
        v = getattr(res, f.name)
        if f.name == "groups":
            v = {
                k: (g.template, g.count, g.first, g.last, g.sample, g.sample_at, list(g.times))
                for k, g in v.items()
            }
        elif f.name == "routes":
            v = {k: (lat.values, lat.requests, lat.errors) for k, lat in v.items()}
        out[f.name] = v
    return out


def _both(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    fast, _, n_fast = analyze_file(path, 0, False, 0, ParseSettings())
    slow, _, n_slow = analyze_file(path, 0, False, 0, ParseSettings(), fast=False)
    assert n_fast == n_slow
    return _view(fast), _view(slow)


def test_fast_and_line_by_line_paths_agree_on_a_generated_day(tmp_path):
    log = tmp_path / "day.log"
    generate_big_log(log, 400_000, seed=3, now=NOW)
    fast, slow = _both(log)
    assert fast == slow
    assert fast["requests"] > 1000 and fast["errors"] > 50


def test_fast_and_line_by_line_paths_agree_on_the_sandbox_logs(tmp_path):
    generate_logs(tmp_path, days=2, lines_per_day=800, now=NOW)
    for log in sorted(tmp_path.glob("*.log")):
        fast, slow = _both(log)
        assert fast == slow, log.name


def test_fast_and_line_by_line_paths_agree_on_adversarial_lines(tmp_path):
    log = tmp_path / "odd.log"
    log.write_text("\n".join(ADVERSARIAL * 3) + "\n")
    fast, slow = _both(log)
    assert fast == slow
    assert fast["levels"]["info"] >= 3 * 2  # the INFO line that mentions ERROR stays info
    assert fast["errors"] == 3 * 5  # escaped, upper case, 5xx, mixed case, fatal


def test_a_line_split_across_chunk_boundaries_is_read_whole(tmp_path, monkeypatch):
    log = tmp_path / "split.log"
    log.write_text("\n".join(ADVERSARIAL * 20) + "\n")
    whole, _, _ = analyze_file(log, 0, False, 0, ParseSettings())
    monkeypatch.setattr(reader, "CHUNK", 97)  # cuts lines everywhere
    monkeypatch.setattr(reader.read_chunks, "__defaults__", (97, None))
    small, _, _ = analyze_file(log, 0, False, 0, ParseSettings())
    assert _view(small) == _view(whole)


def test_a_chunk_with_carriage_returns_or_nul_goes_line_by_line(tmp_path):
    parser = LineParser(Results(), ParseSettings(), "x.log")
    assert scan_chunk(b"2026-11-28T10:00:00Z INFO [a] b\r\n", 0, parser) is None
    assert scan_chunk(b"a\x00b\n", 0, parser) is None
    assert scan_chunk(b"\xff\xfe\n", 0, parser) is None
    assert scan_chunk(b"2026-11-28T10:00:00Z INFO [a] b\n\n", 0, parser) == 2
    assert parser.res.blank == 1 and parser.res.levels["info"] == 1


@pytest.mark.parametrize("crlf", [False, True])
def test_windows_line_endings_give_the_same_counts(tmp_path, crlf):
    log = tmp_path / "w.log"
    sep = "\r\n" if crlf else "\n"
    log.write_bytes((sep.join(ADVERSARIAL) + sep).encode())
    fast, slow = _both(log)
    assert fast == slow


def test_a_request_line_with_a_raw_control_character_is_unparsed_on_both_paths(tmp_path):
    # JSON forbids a raw tab inside a string: json.loads rejects the line, so must the fast path.
    line = (
        '{"time":"2026-11-28T10:00:00.000Z","level":"info","msg":"API request","method":"GET",'
        '"path":"/api/users/7","status":200,"duration":"3.1ms","request_id":"ab\tcd"}'
    )
    log = tmp_path / "tab.log"
    log.write_text(line + "\n")
    fast, slow = _both(log)
    assert fast == slow
    assert fast["unparsed"] == 1


def _chunk_view(data: bytes, compiled: bool) -> tuple[int | None, dict[str, Any]]:
    parser = LineParser(Results(), ParseSettings(), "x.log")
    n = scan_chunk(data, 0, parser, compiled=compiled)
    return n, _view(parser.res)


def _mutants(line: str, rng: random.Random, count: int) -> list[str]:
    """Near misses of a fast shape: one character changed, dropped, doubled or inserted."""
    alphabet = '0123456789"{}:,./?@#\\ -_TZazAZ\tms[]é'
    out = []
    for _ in range(count):
        i = rng.randrange(len(line))
        op = rng.randrange(4)
        if op == 0:
            out.append(line[:i] + rng.choice(alphabet) + line[i + 1 :])
        elif op == 1:
            out.append(line[:i] + line[i + 1 :])
        elif op == 2:
            out.append(line[:i] + line[i] + line[i:])
        else:
            out.append(line[:i] + rng.choice(alphabet) + line[i:])
    return out


@pytest.mark.skipif(not COMPILED, reason="the compiled classifier was not built")
def test_the_compiled_classifier_agrees_with_the_regex_on_mutated_lines():
    rng = random.Random(7)
    shapes = [
        '{"time":"2026-11-28T10:00:01.123Z","level":"info","msg":"API request","method":"GET",'
        '"path":"/api/conversations/42","status":200,"duration":"12.3ms","request_id":"a-b"}',
        '{"time":"2026-11-28T10:00:01Z","level":"warning","msg":"API request","method":"DELETE",'
        '"path":"/api/v2/users/7/keys","status":404,"duration":"123456789.123456ms"}',
        '{"time":"2026-11-28T23:59:59.123456789Z","level":"debug","msg":"API request",'
        '"method":"PATCH","path":"/","status":100,"duration":"0ms"}',
        "2026-11-28T10:00:02.000Z INFO [api] user 42 signed in",
        "2026-11-28T10:00:02Z WARNING [db] slow",
        "2026-11-28T10:00:02.5Z NOTICE [x]",
    ]
    lines = [*shapes, *ADVERSARIAL]
    for shape in shapes:
        lines += _mutants(shape, rng, 400)
    rng.shuffle(lines)
    data = ("\n".join(lines) + "\n").encode()
    compiled = _chunk_view(data, compiled=True)
    reference = _chunk_view(data, compiled=False)
    assert compiled == reference
    assert compiled[1]["requests"] > 100 and compiled[1]["unparsed"] > 100
    # one line at a time, so a difference names its line
    for line in lines:
        one = (line + "\n").encode()
        assert _chunk_view(one, True) == _chunk_view(one, False), line


@pytest.mark.skipif(not COMPILED, reason="the compiled classifier was not built")
def test_the_compiled_classifier_agrees_on_a_generated_day(tmp_path):
    log = tmp_path / "day.log"
    generate_big_log(log, 300_000, seed=5, now=NOW)
    data = log.read_bytes()
    data = data[: data.rfind(b"\n") + 1]
    assert _chunk_view(data, compiled=True) == _chunk_view(data, compiled=False)
