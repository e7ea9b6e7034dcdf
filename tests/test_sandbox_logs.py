"""Generated platform logs: logrotate's layout, both formats, and an exact ground truth."""

from __future__ import annotations

import gzip
import json
import re
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rota_sandbox.logs import NEW_TEMPLATE, TEMPLATES, generate_big_log, generate_logs

NOW = datetime(2026, 11, 28, 14, 30, 5, tzinfo=UTC)
TEXT = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (DEBUG|INFO|WARN|ERROR) \[(\w+)\] (.*)$"
)
REGEXES = {t.id: re.compile(t.regex) for t in (*TEMPLATES, NEW_TEMPLATE)}


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    log_dir = tmp_path_factory.mktemp("logs")
    return log_dir, generate_logs(log_dir, now=NOW, with_labels=True)


def read_lines(path: Path) -> list[str]:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read().splitlines()
    return path.read_text(encoding="utf-8").splitlines()


def classify(line: str) -> tuple[str, str | None]:
    """(level, template id or None) of one line, read the way a careful parser would."""
    if line.startswith("{"):
        record = json.loads(line)
        if record["level"] != "error":
            return record["level"], None
        return "error", only_match(record["err"])
    m = TEXT.match(line)
    assert m, f"unparsable line: {line}"
    level = m.group(2).lower()
    return level, only_match(m.group(4)) if level == "error" else None


def only_match(message: str) -> str:
    hits = [tid for tid, rx in REGEXES.items() if rx.fullmatch(message)]
    assert len(hits) == 1, f"{message!r} matches {hits}"
    return hits[0]


def test_it_leaves_the_files_logrotate_would_with_dateext_and_delaycompress(
    month: tuple[Path, dict[str, Any]],
) -> None:
    log_dir, _ = month
    names = {p.name for p in log_dir.iterdir()}
    yesterday = (NOW - timedelta(days=1)).strftime("%Y%m%d")
    assert {"app.log", "worker.log", f"app.log-{yesterday}", f"worker.log-{yesterday}"} <= names
    gz = sorted(n for n in names if n.endswith(".gz"))
    assert len(gz) == 2 * 28 and len(names) == 2 * 30
    assert gz[0] == f"app.log-{(NOW - timedelta(days=29)):%Y%m%d}.gz"
    assert f"app.log-{(NOW - timedelta(days=2)):%Y%m%d}.gz" in gz


def test_every_gz_file_is_a_valid_gzip_stream_to_the_end(
    month: tuple[Path, dict[str, Any]],
) -> None:
    log_dir, truth = month
    for path in log_dir.glob("*.gz"):
        with gzip.open(path) as f:
            data = f.read()  # raises on a truncated or corrupt stream
        assert len(data) == truth["files"][path.name]["bytes"]
        assert data.endswith(b"\n")


def test_mtimes_are_the_time_of_each_files_last_line(month: tuple[Path, dict[str, Any]]) -> None:
    log_dir, truth = month
    assert (log_dir / "app.log").stat().st_mtime == NOW.timestamp()
    for name in ("app.log-20261120.gz", "worker.log-20261127"):
        last = read_lines(log_dir / name)[-1]
        stamp = json.loads(last)["time"] if last.startswith("{") else last.split(" ", 1)[0]
        mtime = datetime.fromtimestamp((log_dir / name).stat().st_mtime, UTC)
        assert mtime.isoformat(timespec="milliseconds").replace("+00:00", "Z") == stamp
        assert truth["files"][name]["mtime"] == stamp


def test_the_ground_truth_matches_what_is_in_the_files(month: tuple[Path, dict[str, Any]]) -> None:
    log_dir, truth = month
    per_template: Counter[str] = Counter()
    total = 0
    for name, expected in truth["files"].items():
        lines = read_lines(log_dir / name)
        classified = [classify(line) for line in lines]
        errors = [tid for level, tid in classified if level == "error"]
        assert len(lines) == expected["lines"], name
        assert len(errors) == expected["errors"], name
        assert sum("ERROR" in line for line in lines) == expected["grep_error"], name
        assert all(line[:10] == expected["date"] for line in lines if not line.startswith("{"))
        per_template.update(e for e in errors if e is not None)
        total += len(lines)
    assert total == truth["total_lines"]
    assert per_template == {tid: t["count"] for tid, t in truth["templates"].items() if t["count"]}
    assert sum(per_template.values()) == truth["error_lines"]


def test_labels_point_at_the_error_lines(month: tuple[Path, dict[str, Any]]) -> None:
    log_dir, truth = month
    labels = truth["labels"]
    assert len(labels) == truth["error_lines"]
    cache: dict[str, list[str]] = {}
    for name, line_no, tid in labels[:: max(1, len(labels) // 200)]:
        lines = cache.setdefault(name, read_lines(log_dir / name))
        assert classify(lines[line_no - 1]) == ("error", tid)


def test_grep_error_misses_the_json_errors_and_counts_a_warning(
    month: tuple[Path, dict[str, Any]],
) -> None:
    _, truth = month
    assert truth["error_lines_json"] > 0
    assert truth["grep_error_lines"] != truth["error_lines"]
    assert truth["grep_error_lines"] > truth["error_lines_text"]  # "retrying after ERROR 429"


def test_json_lines_are_written_as_json_stringify_does(month: tuple[Path, dict[str, Any]]) -> None:
    log_dir, _ = month
    text = (log_dir / "app.log").read_text()
    assert '"duration":"' in text and '": "' not in text
    durations = re.findall(r'duration":"([^"]*)', text)
    assert durations and all(re.fullmatch(r"\d+\.\dms", d) for d in durations)


def test_the_new_error_kind_appears_only_today(month: tuple[Path, dict[str, Any]]) -> None:
    log_dir, truth = month
    new = truth["templates"][NEW_TEMPLATE.id]
    assert new["count"] > 0 and list(new["per_day"]) == [NOW.strftime("%Y-%m-%d")]
    assert truth["new_template"] == {"id": NEW_TEMPLATE.id, "date": "2026-11-28"}
    assert 'column "archived_at"' in (log_dir / "app.log").read_text()


def test_one_day_has_a_spike_of_one_error_kind(month: tuple[Path, dict[str, Any]]) -> None:
    _, truth = month
    spike = truth["spike"]
    per_day = truth["templates"][spike["template"]]["per_day"]
    worst_day = max(per_day, key=per_day.get)
    assert worst_day == spike["date"]
    assert per_day[worst_day] >= 5 * statistics.median(per_day.values())


def test_error_kinds_follow_a_skewed_frequency(month: tuple[Path, dict[str, Any]]) -> None:
    _, truth = month
    spike = truth["spike"]
    counts = []
    for t in TEMPLATES:
        c = truth["templates"][t.id]["count"]
        counts.append(c - spike["extra"] if t.id == spike["template"] else c)
    assert len(TEMPLATES) >= 10 and all(c > 0 for c in counts)
    assert counts[0] > 4 * counts[-1]
    assert counts[0] > counts[4] > counts[-1]


def test_every_error_kind_varies_its_variable_parts(month: tuple[Path, dict[str, Any]]) -> None:
    log_dir, _ = month
    messages: dict[str, set[str]] = {}
    for line in read_lines(log_dir / "app.log-20261120.gz") + read_lines(log_dir / "app.log"):
        _, tid = classify(line)
        if tid:
            messages.setdefault(tid, set()).add(line.split("Z", 1)[1])
    repeated = [tid for tid, seen in messages.items() if len(seen) < 2]
    assert len(repeated) <= 3  # only the rarest kinds may occur once in two days


def test_it_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    def contents(d: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(d.iterdir())}

    a = generate_logs(tmp_path / "a", days=4, seed=3, now=NOW, lines_per_day=300)
    b = generate_logs(tmp_path / "b", days=4, seed=3, now=NOW, lines_per_day=300)
    c = generate_logs(tmp_path / "c", days=4, seed=4, now=NOW, lines_per_day=300)
    assert contents(tmp_path / "a") == contents(tmp_path / "b")
    assert a["templates"] == b["templates"]
    assert contents(tmp_path / "a")["app.log"] != contents(tmp_path / "c")["app.log"]
    assert c["files"].keys() == a["files"].keys()


def test_regenerating_replaces_the_previous_files(tmp_path: Path) -> None:
    generate_logs(tmp_path, days=5, now=NOW, lines_per_day=100)
    truth = generate_logs(tmp_path, days=3, now=NOW, lines_per_day=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(truth["files"])


def test_it_rejects_an_empty_history(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate_logs(tmp_path, days=0)


def test_a_big_log_has_the_requested_size_in_time_order(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    result = generate_big_log(path, 20_000_000, seed=5, now=NOW)
    size = path.stat().st_size
    assert size == result["bytes"] and 20_000_000 <= size < 20_200_000
    lines = path.read_text().splitlines()
    assert len(lines) == result["lines"]
    stamps = [json.loads(s)["time"] if s.startswith("{") else s[:24] for s in lines[::997]]
    assert stamps == sorted(stamps) and stamps[-1] <= "2026-11-28T14:30:05.000Z"
    errors = Counter(tid for level, tid in map(classify, lines[:50_000]) if level == "error")
    assert sum(errors.values()) > 0 and set(errors) <= set(result["templates"])
    assert result["mb_per_s"] >= 20  # ~100 MB/s on the 2-core CI machine; loose for noise
