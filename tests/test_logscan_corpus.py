"""The labelled log corpus (tests/corpus.py) is sound: real producers, one label per line.

These tests check the corpus itself, not rota: the grouping-accuracy tests use the
``logscan_corpus`` fixture (tests/conftest.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import corpus

NODE_FORMATS = {
    "pino-json",
    "winston-json",
    "winston-simple",
    "winston-printf",
    "bunyan-json",
    "morgan-combined",
    "morgan-common",
    "morgan-dev",
    "morgan-dev-ansi",
    "morgan-short",
    "morgan-tiny",
}
PYTHON_FORMATS = {
    "python-logging-basic",
    "python-logging-dash",
    "python-logging-bracket",
    "structlog-json",
    "structlog-console",
    "syslog-rfc3164",
    "syslog-rfc5424",
    "syslog-traditional-file",
}
DOCUMENTED_FORMATS = {
    "nginx-error",
    "apache-error",
    "log4j-pattern",
    "logback-default",
    "go-log",
    "klog",
    "kubernetes-cri",
    "android-logcat-threadtime",
    "windows-cbs",
}
REQUEST_LABEL = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (/\S*) ([1-5]xx)$")
MORGAN_COMBINED = re.compile(
    r"^(?P<addr>\S+) - (?P<user>\S+) \[(?P<date>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<method>[A-Z]+) (?P<url>\S+) HTTP/(?P<http>\d\.\d)" (?P<status>\d{3}) (?P<length>\d+|-) '
    r'"(?P<referrer>[^"]*)" "(?P<agent>[^"]*)"$'
)


def _built(generate: Any, out: Path, part: str) -> Path:
    generate(out, seed=0, part=part)
    return out


def manifest(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "MANIFEST.json").read_text())
    return data


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def file_of(directory: Path, fmt: str) -> tuple[Path, list[str]]:
    """The log file of one format and its labels; skips when its producer was skipped here."""
    m = manifest(directory)
    for entry in m["files"]:
        if entry["format"] == fmt:
            return directory / entry["file"], lines(directory / entry["labels"])
    reasons = "; ".join(s["reason"] for s in m["skipped"])
    if fmt in NODE_FORMATS and reasons and not corpus.running_under_ci():
        pytest.skip(f"{fmt}: {reasons}")
    raise AssertionError(f"no {fmt} file in {directory}")


PARTS = pytest.mark.parametrize("part", corpus.PARTS)


@PARTS
def test_it_writes_no_empty_log_or_labels_file(logscan_corpus: dict[str, Path], part: str) -> None:
    for entry in manifest(logscan_corpus[part])["files"]:
        for name in (entry["file"], entry["labels"]):
            assert (logscan_corpus[part] / name).stat().st_size > 0, name


@PARTS
def test_it_writes_one_label_per_log_line(logscan_corpus: dict[str, Path], part: str) -> None:
    for entry in manifest(logscan_corpus[part])["files"]:
        log = lines(logscan_corpus[part] / entry["file"])
        labels = lines(logscan_corpus[part] / entry["labels"])
        assert len(log) == len(labels) == entry["lines"], entry["file"]
        assert all(label.strip() for label in labels), entry["labels"]


@PARTS
def test_it_lists_every_file_it_writes_in_the_manifest(
    logscan_corpus: dict[str, Path], part: str
) -> None:
    d = logscan_corpus[part]
    listed = {e[k] for e in manifest(d)["files"] for k in ("file", "labels")}
    on_disk = {p.name for p in d.iterdir()} - {"MANIFEST.json", "SPLIT"}
    assert listed == on_disk


@PARTS
def test_it_writes_every_format_real_where_it_can_and_marks_documented_ones(
    logscan_corpus: dict[str, Path], part: str
) -> None:
    m = manifest(logscan_corpus[part])
    source = {e["format"]: e["source"] for e in m["files"]}
    expected_real = set(PYTHON_FORMATS)
    if m["skipped"]:
        assert not corpus.running_under_ci(), m["skipped"]
        assert not NODE_FORMATS & set(source)
    else:
        expected_real |= NODE_FORMATS
    assert {f for f, s in source.items() if s == "real"} == expected_real
    assert {f for f, s in source.items() if s == "documented"} == DOCUMENTED_FORMATS
    for e in m["files"]:
        assert e["producer"].startswith("documented example") == (e["source"] == "documented")


def test_it_uses_disjoint_templates_and_routes_for_the_holdout(
    logscan_corpus: dict[str, Path],
) -> None:
    def all_labels(d: Path) -> set[str]:
        return {x for e in manifest(d)["files"] for x in lines(d / e["labels"])}

    tune, holdout = all_labels(logscan_corpus["tune"]), all_labels(logscan_corpus["holdout"])
    assert not tune & holdout
    m_tune, m_hold = manifest(logscan_corpus["tune"]), manifest(logscan_corpus["holdout"])
    assert not set(m_tune["event_templates"]) & set(m_hold["event_templates"])
    assert not set(m_tune["routes"]) & set(m_hold["routes"])
    assert m_tune["seed"] != m_hold["seed"]


@PARTS
def test_it_writes_pino_lines_that_parse_as_json_with_a_numeric_level(
    logscan_corpus: dict[str, Path], part: str
) -> None:
    path, labels = file_of(logscan_corpus[part], "pino-json")
    records = [json.loads(line) for line in lines(path)]
    for rec in records:
        assert isinstance(rec["level"], int) and rec["level"] in {20, 30, 40, 50}
        assert isinstance(rec["time"], int) and rec["time"] > 1_600_000_000_000  # epoch ms
        assert {"pid", "hostname", "msg"} <= set(rec)
    assert any("module" in r for r in records)  # child loggers' extra key
    errors = [r for r in records if "err" in r and "req" not in r]
    assert errors and all({"type", "message", "stack"} <= set(r["err"]) for r in errors)
    # pino-http's request lines, from real requests: req/res objects, responseTime
    requests = [(r, label) for r, label in zip(records, labels, strict=True) if "req" in r]
    assert len(requests) >= 100
    for rec, label in requests:
        assert rec["msg"] in {"request completed", "request errored"}
        assert {"method", "url", "headers"} <= set(rec["req"])
        assert isinstance(rec["res"]["statusCode"], int)
        assert isinstance(rec["responseTime"], int)
        match = REQUEST_LABEL.match(label)
        assert match, label
        assert match[1] == rec["req"]["method"]
        assert match[3] == f"{rec['res']['statusCode'] // 100}xx"
    statuses = {rec["res"]["statusCode"] for rec, _ in requests}
    assert 404 in statuses and any(s >= 500 for s in statuses)


@PARTS
def test_it_writes_morgan_combined_lines_in_the_combined_format(
    logscan_corpus: dict[str, Path], part: str
) -> None:
    path, labels = file_of(logscan_corpus[part], "morgan-combined")
    statuses = set()
    for line, label in zip(lines(path), labels, strict=True):
        m = MORGAN_COMBINED.match(line)
        assert m, line
        statuses.add(int(m["status"]))
        lm = REQUEST_LABEL.match(label)
        assert lm and lm[1] == m["method"], (line, label)
        assert lm[3] == m["status"][0] + "xx", (line, label)
        assert m["url"].split("?")[0].count("/") == lm[2].count("/"), (line, label)
    assert {2, 4, 5} <= {s // 100 for s in statuses}


@PARTS
def test_it_writes_morgan_dev_plain_and_dev_ansi_coloured(
    logscan_corpus: dict[str, Path], part: str
) -> None:
    plain, _ = file_of(logscan_corpus[part], "morgan-dev")
    ansi, _ = file_of(logscan_corpus[part], "morgan-dev-ansi")
    assert "\x1b[" not in plain.read_text()
    assert all(line.startswith("\x1b[0m") for line in lines(ansi))
    strip = re.compile(r"\x1b\[\d+m")
    assert [strip.sub("", x).split()[:3] for x in lines(ansi)] == [
        x.split()[:3] for x in lines(plain)
    ]


@PARTS
def test_it_writes_winston_json_with_level_message_and_timestamp(
    logscan_corpus: dict[str, Path], part: str
) -> None:
    path, _ = file_of(logscan_corpus[part], "winston-json")
    for line in lines(path):
        rec = json.loads(line)
        assert rec["level"] in {"debug", "info", "warn", "error"}
        assert isinstance(rec["message"], str) and re.match(r"\d{4}-\d\d-\d\dT", rec["timestamp"])
    printf, _ = file_of(logscan_corpus[part], "winston-printf")
    line_re = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (debug|info|warn|error): \S")
    assert all(line_re.match(x) for x in lines(printf))


@PARTS
def test_it_writes_bunyan_records_some_with_req_and_res(
    logscan_corpus: dict[str, Path], part: str
) -> None:
    path, labels = file_of(logscan_corpus[part], "bunyan-json")
    records = [json.loads(line) for line in lines(path)]
    for rec in records:
        assert rec["v"] == 0 and isinstance(rec["level"], int)
        assert {"name", "hostname", "pid", "time", "msg"} <= set(rec)
    with_req = [(r, lab) for r, lab in zip(records, labels, strict=True) if "req" in r]
    assert 0 < len(with_req) < len(records)
    assert all("statusCode" in r["res"] and REQUEST_LABEL.match(lab) for r, lab in with_req)


@PARTS
def test_it_writes_syslog_as_the_real_logger_command_sent_it(
    logscan_corpus: dict[str, Path], part: str
) -> None:
    d = logscan_corpus[part]
    rfc3164, labels = file_of(d, "syslog-rfc3164")
    rfc5424, labels5424 = file_of(d, "syslog-rfc5424")
    traditional, _ = file_of(d, "syslog-traditional-file")
    assert labels == labels5424
    r3164 = re.compile(r"^<\d{1,3}>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [\w.-]+\[\d+\]: \S")
    r5424 = re.compile(r"^<\d{1,3}>1 \d{4}-\d\d-\d\dT\S+ \S+ [\w.-]+ \d+ - (\[.*?\]|-) \S")
    assert all(r3164.match(x) for x in lines(rfc3164))
    assert all(r5424.match(x) for x in lines(rfc5424))
    assert [re.sub(r"^<\d+>", "", x) for x in lines(rfc3164)] == lines(traditional)


@PARTS
def test_it_writes_python_logging_lines_in_each_formatter_layout(
    logscan_corpus: dict[str, Path], part: str
) -> None:
    layouts = {
        "python-logging-basic": r"^(DEBUG|INFO|WARNING|ERROR):[\w.]+:\S",
        "python-logging-dash": r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - [\w.]+ - (DEBUG|INFO|WARNING|ERROR) - \S",
        "python-logging-bracket": r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) +\[[\w.]+\] \S",
        "structlog-console": r"^\d{4}-\d\d-\d\dT\S+Z \[(debug|info|warning|error) *\] \S",
    }
    for fmt, pattern in layouts.items():
        path, _ = file_of(logscan_corpus[part], fmt)
        assert all(re.match(pattern, x) for x in lines(path)), fmt
    path, _ = file_of(logscan_corpus[part], "structlog-json")
    assert all({"event", "level", "timestamp"} <= set(json.loads(x)) for x in lines(path))


def test_it_labels_the_same_way_for_the_same_seed(
    logscan_corpus: dict[str, Path], tmp_path: Path
) -> None:
    again = _built(corpus.generate, tmp_path / "tune", "tune")
    first = manifest(logscan_corpus["tune"])["files"]
    assert [e["file"] for e in manifest(again)["files"]] == [e["file"] for e in first]
    for e in first:
        assert lines(again / e["labels"]) == lines(logscan_corpus["tune"] / e["labels"]), e
