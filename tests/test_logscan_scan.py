import gzip
import os
from datetime import UTC, datetime

import pytest

from rota.logscan.scan import ScanCache, scan
from rota_sandbox.logs import generate_logs

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


@pytest.fixture
def logs(tmp_path):
    d = tmp_path / "logs"
    truth = generate_logs(d, days=5, lines_per_day=600, now=NOW, with_labels=True)
    return d, truth


def test_it_counts_every_template_exactly_json_errors_included(logs):
    d, truth = logs
    res = scan([str(d / "*")]).results
    assert res.lines == truth["total_lines"] and res.unparsed == 0
    assert res.errors == truth["error_lines"]
    counts = sorted(g.count for g in res.groups.values())
    assert counts == sorted(t["count"] for t in truth["templates"].values() if t["count"])
    assert res.requests >= truth["api_requests"]  # plus the 5xx request lines


def test_a_rerun_reads_only_new_bytes_and_equals_a_cold_run(logs, tmp_path):
    d, _ = logs
    first = scan([str(d / "*")])
    live = d / "app.log"
    with open(live, "a") as f:
        f.write('{"time":"2026-11-28T14:00:00Z","level":"error","msg":"x","err":"late 1"}\n')
    again = scan([str(d / "*")], cache=first.cache)
    cold = scan([str(d / "*")])
    assert again.results.summary() == cold.results.summary()
    assert again.bytes_read < 200 < cold.bytes_read
    cache_file = tmp_path / "c.cache"
    again.cache.save(cache_file)
    assert (
        ScanCache.load(cache_file, again.cache.settings).entries.keys()
        == again.cache.entries.keys()
    )


def test_rotation_rename_compression_and_truncation_are_recognised(logs):
    d, _ = logs
    first = scan([str(d / "*")])
    cold_lines = first.results.lines
    # logrotate: yesterday's plain file is compressed, today's is renamed, a new one starts
    y = next(p for p in d.iterdir() if p.name.startswith("app.log-") and not p.name.endswith(".gz"))
    data = y.read_bytes()
    with gzip.open(str(y) + ".gz", "wb") as g:
        g.write(data)
    y.unlink()
    os.rename(d / "app.log", d / "app.log-20261128")
    (d / "app.log").write_text("2026-11-28T15:00:00Z INFO [api] fresh\n")
    after = scan([str(d / "*")], cache=first.cache)
    assert after.results.lines == cold_lines + 1
    assert not after.rebuilt  # renamed and compressed files keep their place in the total
    assert _report(after.results)[0] == _report(scan([str(d / "*")]).results)[0]
    assert after.bytes_read < 300
    by_name = {os.path.basename(f["path"]): f for f in after.files}
    assert by_name["app.log-20261128"]["bytes_read"] == 0
    assert by_name[y.name + ".gz"]["action"] == "cached"
    # truncation in place: read again from the start
    (d / "worker.log").write_text("2026-11-28T15:00:01Z ERROR [w] after truncate\n")
    trunc = scan([str(d / "*")], cache=after.cache)
    assert trunc.results.summary() == scan([str(d / "*")]).results.summary()


def _report(res):
    groups = [g.to_dict(res.errors) for g in res.top_groups(50)]
    routes = {k: v.summary() for k, v in res.routes.items()}
    return res.summary(), groups, routes, res.timeline, res.unparsed_samples


def test_the_running_total_is_updated_not_rebuilt_and_equals_a_cold_run(logs, tmp_path):
    d, _ = logs
    cache_file = tmp_path / "c.cache"
    scan([str(d / "*")]).cache.save(cache_file)
    with open(d / "app.log", "a") as f:
        f.write("2026-11-28T14:30:00Z ERROR [api] late failure for user 12\nnot a log line\n")
    (d / "new.log").write_text("2026-11-28T14:40:00Z ERROR [mail] bounce from a@b.io\n")
    again = scan([str(d / "*")], cache=ScanCache.load(cache_file, ScanCache().settings))
    assert not again.rebuilt
    assert _report(again.results) == _report(scan([str(d / "*")]).results)


def test_a_file_gone_past_retention_or_truncated_rebuilds_the_total(logs, tmp_path):
    d, _ = logs
    first = scan([str(d / "*")])
    oldest = min(p for p in d.iterdir() if p.name.startswith("app.log-"))
    oldest.unlink()
    after = scan([str(d / "*")], cache=first.cache)
    assert after.rebuilt
    assert _report(after.results) == _report(scan([str(d / "*")]).results)
    (d / "worker.log").write_text("2026-11-28T15:00:01Z ERROR [w] after truncate\n")
    trunc = scan([str(d / "*")], cache=after.cache)
    assert trunc.rebuilt
    assert _report(trunc.results) == _report(scan([str(d / "*")]).results)
    steady = scan([str(d / "*")], cache=trunc.cache)
    assert not steady.rebuilt and steady.bytes_read == 0
    assert _report(steady.results) == _report(trunc.results)


def test_a_big_file_read_in_parts_on_two_cores_equals_one_read(logs, monkeypatch):
    import importlib

    engine = importlib.import_module("rota.logscan.scan")  # the package exports scan()
    d, _ = logs
    whole = scan([str(d / "*")], jobs=1)
    monkeypatch.setattr(engine, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(engine, "SPLIT_MIN_BYTES", 1000)
    live = d / "app.log"
    job = engine._plan(live, engine.ScanCache(), [])
    assert len(engine._split(job, 2)) == 2
    parts = scan([str(live)], jobs=2)
    alone = scan([str(live)], jobs=1)
    assert _report(parts.results) == _report(alone.results)
    assert parts.cache.entries[str(live)].offset == live.stat().st_size
    assert _report(scan([str(d / "*")], jobs=2).results) == _report(whole.results)


def test_a_cancelled_scan_stops_its_worker_processes(tmp_path):
    import psutil

    from rota.logscan.scan import PARALLEL_MIN_BYTES, ScanCancelled

    logs = tmp_path / "logs"
    logs.mkdir()
    line = b"2026-11-28T10:00:01.123Z INFO [api] a line to read\n"
    for day in range(4):
        (logs / f"app-{day}.log").write_bytes(line * (PARALLEL_MIN_BYTES // len(line) + 1))

    def cancelled_already(hook):  # a task past its timeout runs a new cleanup at once
        hook()
        return lambda: None

    def running() -> set[int]:  # the session's own services (a sandbox) are children too
        return {
            p.pid
            for p in psutil.Process().children(recursive=True)
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        }

    before = running()
    with pytest.raises(ScanCancelled):
        scan([str(logs / "*.log")], jobs=2, on_cancel=cancelled_already)
    assert running() - before == set()
    outcome = scan([str(logs / "*.log")], jobs=2)  # and a scan nobody stops reads everything
    assert outcome.results.lines == 4 * (PARALLEL_MIN_BYTES // len(line) + 1)
