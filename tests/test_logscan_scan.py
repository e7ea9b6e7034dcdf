import gzip
import os
from datetime import UTC, datetime

import pytest

from rota.logscan.scan import ScanCache, scan
from rota.sandbox.logs import generate_logs

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
    cache_file = tmp_path / "c.pickle"
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
    assert after.bytes_read < 300
    by_name = {os.path.basename(f["path"]): f for f in after.files}
    assert by_name["app.log-20261128"]["bytes_read"] == 0
    assert by_name[y.name + ".gz"]["action"] == "cached"
    # truncation in place: read again from the start
    (d / "worker.log").write_text("2026-11-28T15:00:01Z ERROR [w] after truncate\n")
    trunc = scan([str(d / "*")], cache=after.cache)
    assert trunc.results.summary() == scan([str(d / "*")]).results.summary()
