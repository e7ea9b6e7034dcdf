import json
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
from rota_sandbox.logs import generate_big_log, generate_logs

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


# --------------------------------------------------------------------------- any JSON logger
#
# Lines as the loggers really write them (pino 10 / pino-http 11, winston 3 json() with
# timestamp(), bunyan 2, structlog's JSONRenderer, and the sandbox shape reordered with extra
# keys), then mutated: every mutated file must give the same results through the fast path
# (compiled or not) as through the per-line parser.

PINO = [
    '{"level":30,"time":1795860000123,"pid":42,"hostname":"web-1","msg":"server started"}',
    '{"level":40,"time":1795860001123,"pid":42,"hostname":"web-1","userId":42,"msg":"slow query"}',
    '{"level":50,"time":1795860002000,"pid":42,"hostname":"web-1","err":{"type":"Error",'
    '"message":"connect ECONNREFUSED 10.0.0.5:5432","stack":"Error: connect ECONNREFUSED\\n'
    '    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)"},"msg":"db error"}',
    '{"level":30,"time":1795860003456,"pid":42,"hostname":"web-1","req":{"id":1,"method":"GET",'
    '"url":"/api/x/12?y=1","query":{},"params":{},"headers":{"host":"h","user-agent":"curl/8",'
    '"sec-ch-ua":"\\"Chromium\\";v=\\"116\\""},"remoteAddress":"::1","remotePort":5000},'
    '"res":{"statusCode":200,"headers":{}},"responseTime":3,"msg":"request completed"}',
    '{"level":30,"time":1795860004000,"pid":42,"hostname":"web-1","req":{"id":2,"method":"POST",'
    '"url":"/api/orders","headers":{"host":"h"},"remoteAddress":"::ffff:127.0.0.1",'
    '"remotePort":55022},"res":{"statusCode":201,"headers":{"content-type":"application/json"}},'
    '"responseTime":12,"msg":"request completed"}',
    '{"level":30,"time":1795860005000,"pid":42,"hostname":"web-1","req":{"id":3,"method":"GET",'
    '"url":"/err","headers":{}},"res":{"statusCode":500,"headers":{}},"err":{"type":"Error",'
    '"message":"failed with status code 500","stack":"Error: failed"},"responseTime":0,'
    '"msg":"request errored"}',
]
WINSTON = [
    '{"level":"info","message":"server listening","timestamp":"2026-11-28T10:00:00.123Z"}',
    '{"duration":"3ms","level":"info","message":"request","method":"GET","path":"/a/1",'
    '"status":200,"timestamp":"2026-11-28T10:00:01.634Z"}',
    '{"err":"x","level":"error","message":"bad thing","timestamp":"2026-11-28T10:00:02.636Z"}',
    '{"level":"warn","message":"warned","timestamp":"2026-11-28T10:00:03.636Z"}',
    '{"level":"http","message":"GET /api/users/7 200","meta":{"a":1},'
    '"timestamp":"2026-11-28T10:00:04.637Z"}',
    '{"level":"verbose","message":"no timestamp at all"}',
]
BUNYAN = [
    '{"name":"svc","hostname":"web-2","pid":7,"level":30,"msg":"hi",'
    '"time":"2026-11-28T10:00:14.639Z","v":0}',
    '{"name":"svc","hostname":"web-2","pid":7,"level":30,"req_id":"r1","method":"GET",'
    '"url":"/x/2","statusCode":201,"latency":4,"msg":"done","time":"2026-11-28T10:00:14.639Z",'
    '"v":0}',
    '{"name":"svc","hostname":"web-2","pid":7,"level":50,"err":{"message":"bunyan err",'
    '"name":"Error","stack":"Error: bunyan err"},"msg":"failed","time":"2026-11-28T10:00:15Z",'
    '"v":0}',
    '{"name":"svc","hostname":"web-2","pid":7,"level":20,"msg":"cache miss","time":'
    '"2026-11-28T11:00:00.001Z","v":0}',
]
STRUCTLOG = [
    '{"event": "request finished", "method": "GET", "path": "/api/items/3", "status_code": 200,'
    ' "duration_ms": 4.25, "level": "info", "timestamp": "2026-11-28T10:00:01.123456Z"}',
    '{"event": "cache warm", "level": "debug", "timestamp": "2026-11-28T10:05:00.5+00:00"}',
    '{"event": "retrying", "attempt": 2, "level": "warning", "timestamp": 1795860300.25}',
    '{"event": "payment failed", "level": "error", "exc_info": true,'
    ' "timestamp": "2026-11-28 10:06:00"}',
]
SANDBOX = [
    '{"time":"2026-11-28T10:00:01.123Z","level":"warn","msg":"API request","method":"GET",'
    '"path":"/api/users/42","status":404,"duration":"15.3ms","ip":"10.0.0.7","reqId":"a1"}',
    '{"level":"info","time":"2026-11-28T10:00:02.000Z","duration":"1.2s","msg":"API request",'
    '"status":200,"path":"/api/conversations/9/messages","method":"post"}',
    '{"msg":"API request","time":"2026-11-28T10:00:03Z","level":"info","method":"DELETE",'
    '"path":"/api/keys/deadbeef1234","status":204,"duration":"350µs","request_id":"x"}',
]
SHAPES = {
    "pino": PINO,
    "winston": WINSTON,
    "bunyan": BUNYAN,
    "structlog": STRUCTLOG,
    "sandbox": SANDBOX,
}

# values a real (or broken) logger may put under a key the report reads
_VALUES: dict[str, list[Any]] = {
    "time": [
        "2026-11-28T10:00:01Z",
        "2026-11-28T10:59:59.999999Z",
        "2026-11-28T11:00:00+02:00",
        "2026-11-28T11:30:00+05:30",
        "2026-11-28T10:00:00.1234567Z",
        "2026-11-28 10:00:01,123",
        "2026-11-28T10:61:00Z",
        "2026-11-28",
        "Nov 28 10:00:01",
        "garbage",
        "",
        1795860000123,
        1795860000,
        1795863599.9999996,
        1795860000.5,
        1e11,
        100000000001,
        -5,
        1e14,
        True,
        {},
        None,
    ],
    "level": [
        "info",
        "INFO",
        "Warning",
        "warn",
        "debug",
        "trace",
        "notice",
        "verbose",
        "http",
        "",
        "err",
        "crit",
        "severe",
        "ERROR",
        "fatal",
        "ïnfo",
        10,
        20,
        30,
        35,
        40,
        50,
        59,
        60,
        0,
        -5,
        70,
        30.0,
        True,
        [],
        None,
    ],
    "method": ["GET", "get", "PATCH", "", "GÉT", 5, 0, True, None, {"x": 1}],
    "path": [
        "/api/x/12?y=1",
        "/",
        "",
        "?q=1",
        "/users/550e8400-e29b-41d4-a716-446655440000/keys",
        "/a/deadbeef12",
        "/u/a@b.io",
        "/v2/x",
        "/x#frag/12",
        "/x/١٢",
        "/x/12.5",
        "/files/report-2026-final-v2abc",
        "/café/7",
        "/a//b/",
        5,
        None,
        [],
    ],
    "status": [
        200,
        404,
        499,
        500,
        503,
        "200",
        "503",
        "0500",
        "2OO",
        "",
        "٢٠٠",
        499.9,
        -1,
        1e2,
        True,
        None,
        {},
    ],
    "duration": [
        "12.3ms",
        "1.5s",
        "350µs",
        "350μs",
        " 12 ",
        "12.3 ms",
        "+5ms",
        "-0ms",
        "5MS",
        "1e3us",
        "2m",
        "abc",
        "",
        "12.",
        "12.1234567ms",
        12,
        12.5,
        0.1,
        1e-7,
        -0.0,
        True,
        None,
        [],
    ],
}
_ALIASES = {
    "time": ["time", "timestamp", "ts", "@timestamp", "t"],
    "level": ["level", "severity", "lvl", "levelname"],
    "method": ["method", "http_method", "verb"],
    "path": ["path", "url", "uri", "route"],
    "status": ["status", "status_code", "statusCode", "http_status"],
    "duration": ["duration", "duration_ms", "responseTime", "latency", "duration_s", "took"],
}
_EXTRA: list[Any] = [
    "x",
    'with "quotes" and \\ and \n and é and \u2028 and \ud83d\ude00',
    12,
    -0.5,
    1e300,
    True,
    None,
    [],
    [1, [2, {"a": None}]],
    {"nested": {"deeper": {"deepest": [1, 2, 3]}}},
]


def _mutate_json(line: str, rng: random.Random) -> str:
    """One JSON line changed the way loggers and disks change them."""
    d = json.loads(line)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(9)
        keys = list(d)
        if op == 0 and keys:  # reorder
            rng.shuffle(keys)
            d = {k: d[k] for k in keys}
        elif op == 1:  # an extra key, anywhere
            items = list(d.items())
            items.insert(rng.randint(0, len(items)), (f"x{rng.randrange(99)}", rng.choice(_EXTRA)))
            d = dict(items)
        elif op == 2 and keys:  # a key removed
            del d[rng.choice(keys)]
        elif op in (3, 4):  # a field of interest under some key name with some value
            field = rng.choice(list(_VALUES))
            d[rng.choice(_ALIASES[field])] = rng.choice(_VALUES[field])
        elif op == 5:  # pino-http's sub-objects
            sub = rng.choice(["req", "res"])
            if sub == "req":
                d["req"] = rng.choice(
                    [
                        {"id": 1, "method": rng.choice(_VALUES["method"]), "url": "/r/5?x"},
                        {"method": "GET"},
                        {},
                        {"url": rng.choice(_VALUES["path"]), "headers": {"a": "b"}},
                        "GET /x",
                    ]
                )
            else:
                d["res"] = rng.choice(
                    [{"statusCode": rng.choice(_VALUES["status"])}, {}, {"headers": {}}, 200]
                )
        elif op == 6:
            d[rng.choice(["unit", "duration_unit"])] = rng.choice(["s", "ms", "us", 5, None])
        elif op == 7 and keys:  # null
            d[rng.choice(keys)] = None
        elif op == 8 and keys:  # a number as a string, or a string as a number
            k = rng.choice(keys)
            v = d[k]
            if isinstance(v, int | float) and not isinstance(v, bool):
                d[k] = str(v)
            elif isinstance(v, str) and v.isdigit():
                d[k] = int(v)
    sep = rng.choice([(",", ":"), (", ", ": "), (",\t", ":  "), (" ,", " :")])
    text = json.dumps(d, ensure_ascii=rng.random() < 0.3, separators=sep)
    op = rng.randrange(8)
    if op == 0:  # a key of interest twice (json.loads keeps the last)
        field = rng.choice(list(_VALUES))
        key = rng.choice(_ALIASES[field])
        value = json.dumps(rng.choice(_VALUES[field]))
        text = text[:1] + f'"{key}":{value},' + text[1:]
    elif op == 1:  # a key or value escaped
        i = text.find('"', rng.randrange(len(text)))
        if i != -1 and i + 1 < len(text) and text[i + 1].isalpha():
            text = text[: i + 1] + f"\\u{ord(text[i + 1]):04x}" + text[i + 2 :]
    elif op == 2:  # truncated
        text = text[: rng.randrange(1, len(text))]
    elif op == 3:
        text = rng.choice(_mutants(text, rng, 1))
    elif op == 4:  # trailing spaces, nesting, junk after the object
        text = text + rng.choice(["  ", "\t", " x", "}", ',"a":1}', "{}"])
    return text


def _per_line_results(data: bytes) -> dict[str, Any]:
    parser = LineParser(Results(), ParseSettings(), "x.log")
    lines = data.split(b"\n")
    lines.pop()
    for i, raw in enumerate(lines):
        parser.line(raw, i + 1)
    return _view(parser.res)


def _first_difference(lines: list[str], compiled: bool) -> str | None:
    for text in lines:
        one = (text + "\n").encode()
        if _chunk_view(one, compiled)[1] != _per_line_results(one):
            return text
    return None


@pytest.mark.parametrize("compiled", [True, False] if COMPILED else [False])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_json_loggers_mutated_give_the_per_line_results(shape, compiled, tmp_path, monkeypatch):
    from rota.logscan import fastpath

    if not compiled:
        monkeypatch.setattr(fastpath, "_linescan", None)
    rng = random.Random(f"{shape}-11")
    base = SHAPES[shape]
    lines = list(base)
    for _ in range(600):
        lines.append(_mutate_json(rng.choice(base), rng))
    lines += ["", "2026-11-28T10:00:05.000Z INFO [api] plain among json", "   "]
    rng.shuffle(lines)
    data = ("\n".join(lines) + "\n").encode(errors="surrogatepass")
    log = tmp_path / f"{shape}.log"
    log.write_bytes(data)
    fast, slow = _both(log)
    if fast != slow:
        assert _first_difference(lines, compiled) is None
        assert fast == slow
    assert fast["formats"]["json"] > 300
    if compiled:
        # the compiled path took a good share of even these lines (the originals all, but
        # errors and 5xx; mutants with an escape, a duplicate, a unit key... go per line)
        taken = len(lines) - len(fastpath._linescan.scan(data)[5])
        assert taken > len(lines) // 3, taken
        for line in base:
            if not any(e in line for e in ("error", ":50,", ":500,", "errored")):
                assert not fastpath._linescan.scan((line + "\n").encode())[5], line


@pytest.mark.parametrize("compiled", [True, False] if COMPILED else [False])
def test_every_single_mutated_line_agrees(compiled, monkeypatch):
    from rota.logscan import fastpath

    if not compiled:
        monkeypatch.setattr(fastpath, "_linescan", None)
    rng = random.Random(5)
    for shape, base in sorted(SHAPES.items()):
        for _ in range(150):
            text = _mutate_json(rng.choice(base), rng)
            one = (text + "\n").encode(errors="surrogatepass")
            if b"\xed" in one:
                continue  # a lone surrogate: not UTF-8, the chunk goes per line anyway
            assert _chunk_view(one, compiled)[1] == _per_line_results(one), (shape, text)


@pytest.mark.parametrize("compiled", [True, False] if COMPILED else [False])
@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "Australia/Lord_Howe"])
def test_hours_follow_the_time_readers_memo_in_line_order(compiled, tz, tmp_path, monkeypatch):
    # TimeReader.hour remembers an hour per (first 13 characters, zone): whichever line of a
    # key comes first decides it for all, invalid minutes and half-hour offsets included.
    from rota.logscan import fastpath

    if not compiled:
        monkeypatch.setattr(fastpath, "_linescan", None)
    lines = [
        "2026-11-28T10:61:00Z INFO [x] an impossible minute first",
        '{"time":"2026-11-28T10:00:01.000Z","level":"info","msg":"API request","method":"GET",'
        '"path":"/a/1","status":200,"duration":"1.0ms"}',
        "2026-11-28T10:00:02.000Z INFO [x] valid, same hour key",
        '{"ts":"2026-11-28T11:45:00+05:30","level":"info"}',
        '{"ts":"2026-11-28T11:05:00+05:30","level":"info"}',
        '{"time":"2026-11-28 02:30:00","level":"info"}',
        '{"time":"2026-11-28 02:10:00","level":"info"}',
        "2026-11-28T12:00:01.000Z INFO [x] valid first",
        "2026-11-28T12:99:00Z INFO [x] invalid after",
        '{"time":"2026-11-28T12:88:00Z","level":"info"}',
        # error lines: read by the compiled path (counted, grouped), or per line (an escape)
        '{"time":"2026-11-28T13:61:00Z","level":"error","msg":"impossible minute first"}',
        '{"time":"2026-11-28T13:01:00Z","level":"error","msg":"valid, same key"}',
        '{"time":"2026-11-28T13:02:00Z","level":"error","msg":"per line \\ud83d\\ude00"}',
        '{"time":"2026-11-28 03:30:00","level":50,"msg":"naive","err":{"message":"e"}}',
        '{"time":"2026-11-28 03:10:00","level":"info","res":{"statusCode":500},"msg":"m",'
        '"req":{"method":"GET","url":"/a/7"}}',
    ]
    for order in (lines, lines[::-1]):
        log = tmp_path / "memo.log"
        log.write_text("\n".join(order) + "\n")
        settings = ParseSettings(timezone=tz)
        fast, _, _ = analyze_file(log, 0, False, 0, settings)
        slow, _, _ = analyze_file(log, 0, False, 0, settings, fast=False)
        assert _view(fast) == _view(slow)


def test_the_compiled_reader_is_given_parse_jsons_own_tables():
    # fastpath passes these to the C reader; parse_json must read the same way
    from rota.logscan import fastpath
    from rota.logscan.formats import parse_json

    req_method, req_url = fastpath.REQ_FIELDS
    rec = parse_json(
        json.dumps(
            {
                fastpath.REQ_KEY: {req_method: "GET", req_url: "/a"},
                fastpath.RES_KEY: {fastpath.RES_STATUS: 503},
            }
        )
    )
    assert rec is not None and (rec.method, rec.path, rec.status) == ("GET", "/a", 503)
    for unit_key in fastpath.UNIT_KEYS:
        rec = parse_json(json.dumps({"duration": 2, unit_key: "s"}))
        assert rec is not None and rec.duration_ms == 2000.0
    ms = parse_json(json.dumps({"time": int(fastpath.EPOCH_MS_ABOVE) + 1}))
    s = parse_json(json.dumps({"time": int(fastpath.EPOCH_MS_ABOVE)}))
    assert ms is not None and s is not None
    assert ms.ts == (fastpath.EPOCH_MS_ABOVE + 1) / 1000 and s.ts == fastpath.EPOCH_MS_ABOVE


@pytest.mark.skipif(not COMPILED, reason="the compiled classifier was not built")
def test_route_keys_template_like_the_paths_they_stand_for():
    from rota.logscan import _linescan
    from rota.logscan.route import template_path

    rng = random.Random(3)
    parts = [
        "api", "users", "12", "12.5", "1.", "deadbeef12", "deadbeef", "DEADBEEF1", "abc",
        "550e8400-e29b-41d4-a716-446655440000", "550e8400-e29b-41d4-a716-44665544000g",
        "a@b.io", "@x", "x@", "a@b@c", "report-2026-final-v2abc", "abcdefghijklmnop1",
        "abcdefghijklmn_1", "١٢", "café7", "", "v2", "0", "?q=1", "#f", "x?y/1", "a%20b",
    ]  # fmt: skip
    for _ in range(3000):
        path = "/".join(rng.choice(parts) for _ in range(rng.randint(0, 5)))
        if rng.random() < 0.8:
            path = "/" + path
        key = _linescan.route_key(path.encode()).decode()
        assert template_path(key) == template_path(path), (path, key)


# Lines the per-line parser itself once failed on (an exception, not an unparsed line); the
# fast path leaves them to it.
PER_LINE_CRASHES = [  # each once raised in the per-line parser; now a record or unparsed
    '{"status":"²"}',  # str.isdigit() is true for "²", int() rejects it
    '{"time":1e20}',  # datetime.fromtimestamp: year out of range
    '{"time":' + "9" * 400 + "}",  # float(int): OverflowError
    '{"duration":' + "9" * 400 + "}",  # parse_duration_ms: float(int) OverflowError
    '{"duration":5,"unit":["s"]}',  # _UNITS.get(list): unhashable
    '{"a":' + "[" * 100000 + "]" * 100000 + "}",  # json.loads: RecursionError
    '{"time":Infinity}',  # json.loads takes it; fromtimestamp: OverflowError
    '{"time":NaN}',  # fromtimestamp: ValueError
]


@pytest.mark.parametrize("line", PER_LINE_CRASHES, ids=range(len(PER_LINE_CRASHES)))
def test_the_per_line_parser_survives_odd_json(line, tmp_path):
    res = Results()
    parser = LineParser(res, ParseSettings(), "x.log")
    parser.line(line.encode(), 1)
    assert sum(res.formats.values()) + res.unparsed == 1
    assert all(ms == ms for lat in res.routes.values() for ms in lat.values)  # no NaN
    log = tmp_path / "odd.log"
    log.write_text(line + "\n")
    fast, _, _ = analyze_file(log, 0, False, 0, ParseSettings())
    slow, _, _ = analyze_file(log, 0, False, 0, ParseSettings(), fast=False)
    assert fast.to_state() == slow.to_state()


PLAIN = [
    "2026-11-28T10:00:01.123Z INFO [api] user 42 signed in",
    "2026-11-28 10:00:01,123 INFO [main] com.acme.Svc - started in 3.2 s",
    "2026-11-28 10:00:02,456 WARN [pool-3-thread-1] com.acme.Db - slow query took 1200 ms",
    "2026-11-28 10:00:03.789+01:00 DEBUG [worker] job 7 picked",
    "2026-11-28T10:00:04+0530 NOTICE [cron] tick",
    "2026-11-28T10:00:05 TRACE [x] naive",
    "2026-11-28 10:00:06,000 ERROR [main] com.acme.Svc - boom",
    "2026-11-28T10:00:07.5Z ERROR [db] connection refused",
    "Nov 28 10:00:08 web-1 nginx[123]: upstream timed out",
    "Nov 28 10:00:09 web-1 sshd[99]: Accepted publickey for deploy",
    # any upper-case non-error level right after the time, whatever follows it
    "2026-11-28 10:00:01,123 INFO  com.acme.Svc - no thread here",
    "2026-11-28 10:00:01,123 INFORMATION something",
    "2026-11-28 10:00:01,123 FINE [x] fine",
    "2026-11-28 10:00:01 CONFIG loaded",
    "2026-11-28T10:00:01Z VERBOSE x",
    "2026-11-28T10:00:01Z WARNING: colon after the level",
    "2026-11-28T10:00:01Z INFOx not a level",
    # lines another rule may take: left to the per-line parser
    "2026-11-28T10:00:01Z INFO GET /api/x 200 12.3 ms - 45",
    "2026-11-28T10:00:01Z INFO GET /api/x 200 45 - 12.3 ms",
    '2026-11-28T10:00:01Z INFO [04/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5',
    "2026-11-28T10:00:01Z INFO \x1b[32mgreen\x1b[0m",
    "2026-11-28T10:00:01Z ERROR [api] \x1b[31mred\x1b[0m",
    # syslog: time, host, tag[pid]:
    "Jan  5 01:02:03 host-1 kernel: boot",
    "Nov 28 10:00:08 INFO nginx[1]: a host named like a level",
    "Nov 28 10:00:08 INFO-1 nginx[1]: x",
    "Nov 28 10:00:08 INFOS nginx[1]: x",
    "Nov 28 10:00:08 web-1 sshd(pam_unix)[1]: auth",
    "Nov 28 10:00:08.123456 web-1 app[1]: a fraction",
    "Nov 28 10:00:08 web-1 app[1]:",
    "Nov 28 10:00:08 web-1 app[1]:x",
    "Nov 28 10:00:08 web-1 Google Chrome Helper[1]: spaces in the tag",
    "Nov 28 10:00:08 web-1 com.apple.xpc.launchd[1] (com.apple.x.123): an address",
    "Nov 128 10:00:08 web-1 app[1]: a bad day",
    "Feb 30 10:00:08 web-1 app: a bad date",
    "Nov 28 10:00:08 web-1 app[]: an empty pid",
    "Nov 28 10:00:08 web-1 " + "a" * 41 + ": the longest tag",
    "Nov 28 10:00:08 web-1 " + "a" * 42 + ": longer",
]


@pytest.mark.parametrize("compiled", [True, False] if COMPILED else [False])
@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
def test_plain_lines_mutated_give_the_per_line_results(compiled, tz, tmp_path, monkeypatch):
    from rota.logscan import fastpath

    if not compiled:
        monkeypatch.setattr(fastpath, "_linescan", None)
    rng = random.Random(17)
    lines = list(PLAIN)
    stamps = [
        "2026-11-28T10:00:01Z", "2026-11-28 10:00:01", "2026-11-28 10:00:01,1",
        "2026-11-28T10:00:01.123456789", "2026-11-28T10:00:01+02:00", "2026-11-28T10:00:01-0330",
        "2026-11-28T10:00:01+02:0", "2026-11-28T10:00:01+0200x", "2026-11-28T10:61:99Z",
        "2026-13-28T10:00:01", "2026-11-28T24:00:00Z", "2026-11-28T10:00:01.",
    ]  # fmt: skip
    for _ in range(3000):
        line = rng.choice(PLAIN)
        if rng.random() < 0.5 and line[0].isdigit():
            rest = line.partition(" ")[2] if "T" in line[:11] else line[24:]
            line = f"{rng.choice(stamps)}{rng.choice([' ', '  ', chr(9)])}{rest}"
        if rng.random() < 0.5:
            line = rng.choice(_mutants(line, rng, 1))
        lines.append(line)
    log = tmp_path / "plain.log"
    log.write_text("\n".join(lines) + "\n")
    settings = ParseSettings(timezone=tz)
    fast, _, _ = analyze_file(log, 0, False, 0, settings)
    slow, _, _ = analyze_file(log, 0, False, 0, settings, fast=False)
    assert _view(fast) == _view(slow)
    assert fast.formats["text"] > 400


# --------------------------------------------------------------------------- JSON errors
#
# Error and 5xx JSON lines as the loggers write them; the compiled reader counts them and
# hands parser.error what LineParser.line would (message with ": err" or the request of a
# 5xx, component, level, epoch), or leaves them to the per-line parser when unsure.

PINO_ERRORS = [
    # logger.error(err, "msg")
    '{"level":50,"time":1795860002000,"pid":42,"hostname":"web-1","err":{"type":"Error",'
    '"message":"connect ECONNREFUSED 10.0.0.5:5432","stack":"Error: connect ECONNREFUSED\\n'
    '    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)"},"msg":"db down"}',
    # logger.error(err): the message is err.message, msg too
    '{"level":60,"time":1795860002500,"pid":42,"hostname":"web-1","err":{"type":"TypeError",'
    '"message":"Cannot read properties of undefined (reading \'id\')","stack":"TypeError: x"},'
    '"msg":"Cannot read properties of undefined (reading \'id\')"}',
    # pino-http: a 5xx logged at info with req/res and err
    '{"level":30,"time":1795860005000,"pid":42,"hostname":"web-1","req":{"id":3,"method":"GET",'
    '"url":"/api/orders/77?x=1","headers":{}},"res":{"statusCode":502,"headers":{}},'
    '"err":{"type":"Error","message":"failed with status code 502","stack":"Error: failed"},'
    '"responseTime":12,"msg":"request errored"}',
    # pino-http: a 5xx without err: the request joins the message
    '{"level":30,"time":1795860006000,"pid":42,"hostname":"web-1","req":{"id":4,"method":"POST",'
    '"url":"/api/users/550e8400-e29b-41d4-a716-446655440000/keys"},"res":{"statusCode":503},'
    '"responseTime":7.5,"msg":"request completed"}',
]
WINSTON_ERRORS = [
    '{"level":"error","message":"timeout after 3000ms calling billing","service":"orders",'
    '"stack":"Error: timeout\\n    at run (/app/src/jobs.js:12:3)",'
    '"timestamp":"2026-11-28T10:00:02.636Z"}',
    '{"level":"error","message":"duplicate key value violates unique constraint \\"orders_pkey\\""'
    ',"service":"orders","timestamp":"2026-11-28T10:00:03Z"}',
    '{"duration":"31ms","level":"warn","message":"request","method":"GET","path":"/a/1",'
    '"status":500,"timestamp":"2026-11-28T10:00:04.1Z"}',
]
BUNYAN_ERRORS = [
    '{"name":"orders","hostname":"web-2","pid":777,"level":50,"err":{"message":"user 42 not'
    ' found","name":"Error","stack":"Error: user 42 not found\\n    at handler (/app/a.js:1:2)"},'
    '"msg":"user 42 not found","time":"2026-11-28T10:00:15.250Z","v":0}',
    '{"name":"orders","hostname":"web-2","pid":777,"level":60,"msg":"fatal: out of memory",'
    '"time":"2026-11-28T10:00:16Z","v":0}',
]
STRUCTLOG_ERRORS = [
    '{"event": "payment failed", "level": "error", "logger": "billing", "exception": '
    '"Traceback (most recent call last):\\n  File \\"a.py\\", line 1\\nValueError: boom", '
    '"timestamp": "2026-11-28T10:06:00.123456Z"}',
    '{"event": "worker crashed", "level": "critical", "timestamp": 1795860300.25}',
    '{"event": "db error", "level": "error", "error": "connection reset",'
    ' "timestamp": "2026-11-28 10:06:00"}',
]
ERROR_SHAPES = {
    "pino": PINO_ERRORS,
    "winston": WINSTON_ERRORS,
    "bunyan": BUNYAN_ERRORS,
    "structlog": STRUCTLOG_ERRORS,
}

_MESSAGES: list[Any] = [
    "plain words 42",
    "has: a colon and space",
    "no colon-space:here",
    'escaped "quotes" \\ and / and \t tab and \n newline',
    "é and 中文 and \u2028",
    "emoji \U0001f600",
    "",
    " ",
    None,
    12,
    True,
    ["a"],
    {"m": 1},
]
_ERRS: list[Any] = [
    "a string error",
    "with: colon",
    "",
    'esc "q" é',
    5,
    0,
    True,
    [],
    ["x"],
    None,
    {},
    {"type": "Error", "message": "m1", "stack": "Error: m1\n at x"},
    {"message": "", "msg": "m2", "type": "T"},
    {"message": None, "msg": "", "type": "OnlyType"},
    {"message": 0, "type": ""},
    {"message": 7},
    {"message": {"nested": 1}},
    {"message": [1]},
    {"msg": 'q "x" é \U0001f600', "code": "E1"},
    {"name": "Error", "stack": "no message"},
    {"message": "deep", "cause": {"message": "inner", "cause": {"a": [1, {"b": 2}]}}},
]
_COMPONENTS: list[Any] = ["api", "pool-3-thread-1", "", "ünï", 'q"x', 5, None, {"a": 1}]
_ERROR_VALUES: dict[str, list[Any]] = {
    "level": [
        "error", "ERROR", "Error", "err", "fatal", "critical", "crit", "panic", "alert",
        "emerg", "emergency", "severe", "failure", "info", "warn", "", 50, 55, 60, 30, 0,
        None, True, "érror",
    ],
    "status": [500, 502, 503, 599, 600, 99999, "500", "0503", "5000", 404, 200, 499, None, "x"],
    "time": [
        "2026-11-28T10:00:01Z", "2026-11-28T10:00:01.5Z", "2026-11-28T10:00:01.1234567Z",
        "2026-11-28T10:00:01+02:00", "2026-11-28 10:00:01,123", "2026-11-28", "2026-02-30T10:00:00Z",
        "2026-11-28T24:00:00Z", "Nov 28 10:00:01", "garbage", "", "3000-01-01T00:00:00Z",
        1795860000123, 1795860000, 1795860000.5, 1795863599.9999996, 0, -5, True, None,
    ],
    "method": ["GET", "post", "", None, 5, "GÉT"],
    "path": ["/api/x/12?y=1", "/", "", None, "/u/a@b.io/keys", "/café/7", 7],
}  # fmt: skip
_ERROR_KEYS = {
    "msg": ["msg", "message", "event", "text", "@m"],
    "err": ["err", "error", "exception", "error.message"],
    "component": ["component", "logger", "module", "name", "service", "SourceContext"],
    "level": ["level", "severity", "levelname"],
    "status": ["status", "statusCode", "status_code"],
    "time": ["time", "timestamp", "ts"],
    "method": ["method", "verb"],
    "path": ["path", "url"],
}
_ERROR_CHOICES = {
    "msg": _MESSAGES,
    "err": _ERRS,
    "component": _COMPONENTS,
    **_ERROR_VALUES,
}


def _mutate_error(line: str, rng: random.Random) -> str:
    """An error line changed: its message parts, level, status and time, then the generic
    JSON mutations (reorder, extra and removed keys, nulls, duplicates, escapes ...)."""
    d = json.loads(line)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        keys = list(d)
        if op < 3:  # a field an error reads, under one of its key names
            field = rng.choice(list(_ERROR_KEYS))
            d[rng.choice(_ERROR_KEYS[field])] = rng.choice(_ERROR_CHOICES[field])
        elif op == 3 and keys:
            del d[rng.choice(keys)]
        elif op == 4:  # pino-http's req/res with a status
            d["req"] = {"method": rng.choice(_ERROR_VALUES["method"]), "url": "/r/5?x"}
            d["res"] = {"statusCode": rng.choice(_ERROR_VALUES["status"])}
        elif op == 5 and keys:
            d[rng.choice(keys)] = None
    text = json.dumps(d, ensure_ascii=rng.random() < 0.3, separators=(",", ":"))
    if rng.random() < 0.5:
        return _mutate_json(text, rng)
    op = rng.randrange(4)
    if op == 0:  # a message-part key twice
        field = rng.choice(["msg", "err", "component"])
        key = rng.choice(_ERROR_KEYS[field])
        text = text[:1] + f'"{key}":{json.dumps(rng.choice(_ERROR_CHOICES[field]))},' + text[1:]
    elif op == 1:  # an escaped key inside an err object, or an err key twice inside it
        text = text.replace(
            '{"message":', rng.choice(['{"m\\u0065ssage":', '{"message":1,"message":']), 1
        )
    elif op == 2:  # a surrogate pair escaped
        text = text.replace('"msg":"', '"msg":"\\ud83d\\ude00', 1)
    return text


def _error_lines(rng: random.Random, count: int) -> list[str]:
    bases = [line for lines in ERROR_SHAPES.values() for line in lines]
    lines = list(bases)
    for _ in range(count):
        lines.append(_mutate_error(rng.choice(bases), rng))
    # the ordinary lines around them, and plain errors
    lines += [_mutate_json(rng.choice(PINO + WINSTON), rng) for _ in range(count // 4)]
    lines += [
        "2026-11-28T10:00:05.000Z ERROR [db] plain error 7",
        "",
        "2026-11-28T10:30:00Z INFO [a] x",
    ]
    rng.shuffle(lines)
    # no lone surrogate (_EXTRA has some): a chunk that is not UTF-8 goes per line whole
    return [line for line in lines if b"\xed" not in line.encode(errors="surrogatepass")]


@pytest.mark.parametrize("compiled", [True, False] if COMPILED else [False])
@pytest.mark.parametrize("tz", ["UTC", "Australia/Lord_Howe"])
def test_json_error_lines_mutated_give_the_per_line_results(compiled, tz, tmp_path, monkeypatch):
    from rota.logscan import fastpath

    if not compiled:
        monkeypatch.setattr(fastpath, "_linescan", None)
    rng = random.Random(f"errors-{tz}")
    lines = _error_lines(rng, 4000)
    data = ("\n".join(lines) + "\n").encode()
    assert data.decode()  # UTF-8: the chunks go through the fast path
    log = tmp_path / "errors.log"
    log.write_bytes(data)
    settings = ParseSettings(timezone=tz)
    fast, _, _ = analyze_file(log, 0, False, 0, settings)
    slow, _, _ = analyze_file(log, 0, False, 0, settings, fast=False)
    if _view(fast) != _view(slow):
        for text in lines:  # name the first line that differs
            one = tmp_path / "one.log"
            one.write_bytes((text + "\n").encode())
            a, _, _ = analyze_file(one, 0, False, 0, settings)
            b, _, _ = analyze_file(one, 0, False, 0, settings, fast=False)
            assert _view(a) == _view(b), text
        assert _view(fast) == _view(slow)
    assert fast.errors > 1500 and len(fast.groups) > 50
    if compiled:
        # most error lines were read by the compiled path (a tuple, not the line's bytes)
        items = fastpath._linescan.scan(data)[6]
        tuples = sum(type(item) is tuple for item in items)
        assert tuples > fast.errors // 3, (tuples, fast.errors)


@pytest.mark.skipif(not COMPILED, reason="the compiled classifier was not built")
def test_the_loggers_error_lines_are_read_by_the_compiled_path():
    from rota.logscan import fastpath

    for lines in ERROR_SHAPES.values():
        for line in lines:
            items = fastpath._linescan.scan((line + "\n").encode())[6]
            assert len(items) == 1 and type(items[0]) is tuple, line
            one = (line + "\n").encode()
            assert _chunk_view(one, True)[1] == _per_line_results(one), line


@pytest.mark.parametrize("compiled", [True, False] if COMPILED else [False])
def test_every_single_mutated_error_line_agrees(compiled, monkeypatch):
    from rota.logscan import fastpath

    if not compiled:
        monkeypatch.setattr(fastpath, "_linescan", None)
    rng = random.Random(23)
    bases = [line for lines in ERROR_SHAPES.values() for line in lines]
    for _ in range(1500):
        text = _mutate_error(rng.choice(bases), rng)
        one = (text + "\n").encode(errors="surrogatepass")
        if b"\xed" in one:
            continue  # a lone surrogate: not UTF-8, the chunk goes per line anyway
        assert _chunk_view(one, compiled)[1] == _per_line_results(one), text


def test_the_err_object_keys_are_parse_jsons():
    from rota.logscan import fastpath
    from rota.logscan.formats import parse_json

    first, second, third = fastpath.ERR_FIELDS
    for err, said in [
        ({first: "a", second: "b", third: "c"}, "a"),
        ({first: "", second: "b", third: "c"}, "b"),
        ({first: 0, second: None, third: "c"}, "c"),
    ]:
        rec = parse_json(json.dumps({"msg": "m", "err": err}))
        assert rec is not None and rec.message == f"m: {said}"


_STAMPS = [
    "2026-11-28T10:00:01Z", "2026-11-28T10:00:01.5Z", "2026-11-28T10:00:01.1234567Z",
    "2026-11-28 10:00:01", "2026-11-28 10:00:01,123", "2026-11-28T10:00:01+02:00",
    "2026-11-28T10:00:01-0330", "2026-11-28 10:00:01.123+05:30", "2026-11-28T10:61:99Z",
    "2026-13-28T10:00:01", "2026-11-28T24:00:00Z", "2026-02-29 10:00:00,5", "2026-11-28T10:00:01.",
]  # fmt: skip


@pytest.mark.parametrize("compiled", [True, False] if COMPILED else [False])
@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
def test_plain_error_lines_with_any_timestamp_give_the_per_line_results(
    compiled, tz, tmp_path, monkeypatch
):
    # log4j's "2026-11-28 10:00:01,123 ERROR [main] ..." too: the epoch of a time that is not
    # "...Z" is TimeReader.epoch's (a naive time is read in the configured zone)
    from rota.logscan import fastpath

    if not compiled:
        monkeypatch.setattr(fastpath, "_linescan", None)
    rng = random.Random(29)
    levels = ["ERROR", "FATAL", "CRITICAL", "CRIT", "ERR", "SEVERE", "PANIC", "Error", "ERRORS"]
    comps = ["main", "pool-3-thread-1", "a b", "x]", "", "ü", "db:1"]
    msgs = ["com.acme.Svc - boom 42", "refused", "a | b", "GET /x 200 12 ms - 5", ": c", "é"]
    lines = []
    for _ in range(3000):
        sep = rng.choice([" ", " ", "  ", "\t"])
        line = f"{rng.choice(_STAMPS)}{sep}{rng.choice(levels)} [{rng.choice(comps)}] "
        line += rng.choice(msgs)
        if rng.random() < 0.3:
            line = rng.choice(_mutants(line, rng, 1))
        lines.append(line)
    log = tmp_path / "plain-errors.log"
    log.write_text("\n".join(lines) + "\n")
    settings = ParseSettings(timezone=tz)
    fast, _, _ = analyze_file(log, 0, False, 0, settings)
    slow, _, _ = analyze_file(log, 0, False, 0, settings, fast=False)
    assert _view(fast) == _view(slow)
    assert fast.errors > 1000
    if compiled:
        one = b"2026-11-28 10:00:01,123 ERROR [main] com.acme.Svc - boom\n"
        assert type(fastpath._linescan.scan(one)[6][0]) is tuple
