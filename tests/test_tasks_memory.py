"""monitor.memory against real Node.js processes, a real SQLite history and real signals."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nodes import FLAT, LEAKY, PARENT, Nodes, join, memory_cgroup, token
from rota.history import History, open_history
from rota.model import Finding, Severity, StepStatus, TaskOutcome
from rota.targets.process import MIB, Processes
from rota.tasks.memory import memory, oom_finding, theil_sen
from rota.testing import findings, run_task, wait_for_file


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    started = Nodes(tmp_path)
    yield started
    started.close()


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    with open_history("sqlite:///" + str(tmp_path / "h.db")) as h:
        yield h


def config(match: str, **keys: Any) -> str:
    lines = ["[process]", f"match = {json.dumps(match)}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


# Seconds apart, not hours: a short window, few samples, and a leak threshold far above what
# a flat node drifts by yet far below what the leaky one grows (~140 GiB/h).
FAST = {"leak_window": "1m", "min_samples": 5, "leak_warning": "5GB"}


def about(outcome: TaskOutcome, code: str, pid: int) -> Finding:
    [found] = [f for f in findings(outcome, code) if f.subject.startswith(f"pid {pid} ")]
    return found


def runs(n: int, cfg: str, history: History, pause: float = 0.3) -> list[TaskOutcome]:
    out = []
    for i in range(n):
        if i:
            time.sleep(pause)
        outcome = run_task(memory, cfg, history=history)
        assert outcome.error is None, outcome.error
        out.append(outcome)
    return out


def test_it_finds_the_leak_in_a_leaky_server_and_none_in_a_flat_one(
    nodes: Nodes, history: History
) -> None:
    group = token("memtest")
    leaky = nodes.start(f"leaky-server-{group}", LEAKY)
    flat = nodes.start(f"flat-server-{group}", FLAT)

    outcomes = runs(8, config(f"server-{group}", **FAST), history)

    first = about(outcomes[0], "memory.leak", leaky.pid)
    assert first.severity is Severity.OK
    assert "1 of 5 samples" in first.message and "4 more runs needed" in first.message
    last = outcomes[-1]
    leak = about(last, "memory.leak", leaky.pid)
    assert leak.severity in (Severity.WARNING, Severity.CRITICAL), leak.message
    assert " grows " in leak.message and "/h over " in leak.message
    assert leak.evidence["samples"] == 8
    assert leak.evidence["growth_bytes_per_hour"] > 5 * 1024 * MIB
    steady = about(last, "memory.leak", flat.pid)
    assert steady.severity is Severity.OK and "steady" in steady.message, steady.message
    assert abs(steady.evidence["fitted_growth_bytes"]) < MIB
    # The series the slope came from is in the history, one point per run and process life.
    series = history.metric_series(
        "memory.tree_rss_bytes", task_id="monitor.memory", labels={"pid": str(leaky.pid)}
    )
    assert len(series) == 8 and series[-1][1] > series[0][1] + 50 * MIB


def test_a_restart_is_recognised_and_starts_the_series_over(nodes: Nodes, history: History) -> None:
    name = token("flat-server")
    old = nodes.start(name, FLAT)
    cfg = config(name, **FAST)
    runs(3, cfg, history, pause=0.05)

    nodes.stop(old)
    new = nodes.start(name, FLAT)
    after = run_task(memory, cfg, history=history)

    [restart] = findings(after, "memory.restart")
    assert restart.severity is Severity.OK
    assert f"pid {old.pid} → pid {new.pid}" in restart.message
    assert restart.evidence["old"]["pid"] == old.pid and restart.evidence["new"]["pid"] == new.pid
    leak = about(after, "memory.leak", new.pid)
    assert leak.evidence["samples"] == 1 and "4 more runs needed" in leak.message


def test_a_pattern_that_matches_nothing_is_unknown_with_the_reason(history: History) -> None:
    name = token("absent-server")
    outcome = run_task(memory, config(name), history=history)
    assert outcome.status is Severity.UNKNOWN
    assert outcome.error == f"no process matches '{name}'"


def test_without_a_process_section_it_is_skipped_unless_asked_for() -> None:
    skipped = run_task(memory, "")
    assert skipped.skip_reason is not None and "[process] is not set" in skipped.skip_reason
    asked = run_task(memory, "", explicit=True)
    assert asked.status is Severity.UNKNOWN and "[process] is not set" in (asked.error or "")


def test_children_are_counted_in_the_process_tree(nodes: Nodes) -> None:
    name = token("parent-server")
    proc = nodes.start(name, PARENT)
    deadline = time.monotonic() + 10
    while len(Processes(match=name).find()) < 3:
        assert time.monotonic() < deadline, "the child and grandchild did not start"
        time.sleep(0.05)

    outcome = run_task(memory, config(name))

    rss = about(outcome, "memory.rss", proc.pid)
    members = rss.evidence["processes"]
    assert len(members) == 3 and "over 3 processes" in rss.message
    assert rss.evidence["rss_bytes"] == sum(p["rss_bytes"] for p in members)
    per_process = [m for m in outcome.metrics if m.name == "memory.rss_bytes"]
    assert sorted(int(m.labels["pid"]) for m in per_process) == sorted(p["pid"] for p in members)
    [count] = [m for m in outcome.metrics if m.name == "memory.tree_processes"]
    assert count.value == 3 and count.labels == {"pid": str(proc.pid), "name": "node"}


def test_thresholds_and_the_heap_limit_share_are_judged(nodes: Nodes) -> None:
    name = token("heap-server")
    proc = nodes.start(name, FLAT, "--max-old-space-size=64")

    calm = run_task(memory, config(name, limit_warning=0.99, limit_critical=1.0))
    tight = run_task(memory, config(name, memory_warning="1MB", limit_warning=0.05))

    assert about(calm, "memory.rss", proc.pid).severity is Severity.OK
    limit = about(calm, "memory.limit", proc.pid)
    assert limit.severity is Severity.OK, limit.message
    [heap] = limit.evidence["limits"][-1:]
    assert heap["kind"] == "heap" and heap["limit_bytes"] == 64 * MIB
    assert "--max-old-space-size=64" in limit.message
    assert about(tight, "memory.rss", proc.pid).severity is Severity.WARNING
    assert about(tight, "memory.limit", proc.pid).severity is Severity.WARNING


def test_apply_takes_a_heap_snapshot_from_a_node_that_offers_one(
    nodes: Nodes, history: History
) -> None:
    name = token("snapshot-server")
    proc = nodes.start(name, FLAT, "--heapsnapshot-signal=SIGUSR2")
    cfg = config(name, memory_warning="1MB")

    check = run_task(memory, cfg, history=history)
    [planned] = check.steps
    assert planned.status is StepStatus.PLANNED
    assert planned.action == f"heap snapshot of pid {proc.pid} (SIGUSR2)"
    assert planned.detail["command"] == f"kill -USR2 {proc.pid}"
    assert planned.detail["files"] == f"{nodes.dir}/Heap.*.heapsnapshot"
    assert "RSS" in planned.detail["reason"] and not list(nodes.dir.glob("*.heapsnapshot"))

    applied = run_task(memory, cfg, history=history, apply=True)

    [done] = applied.steps
    assert done.status is StepStatus.DONE, done.detail.get("error")
    deadline = time.monotonic() + 20
    while not (snapshots := list(nodes.dir.glob(f"Heap.*.{proc.pid}.*.heapsnapshot"))):
        assert time.monotonic() < deadline, "no heap snapshot was written"
        time.sleep(0.05)
    assert wait_for_file(snapshots[0], timeout=20).startswith('{"snapshot":')
    assert proc.poll() is None  # the signal took a snapshot; it did not end the process
    again = run_task(memory, cfg, history=history, apply=True)
    assert [s.status for s in again.steps] == [StepStatus.SKIPPED]


def test_without_a_diagnostic_flag_it_says_how_to_enable_one(nodes: Nodes) -> None:
    name = token("bare-server")
    proc = nodes.start(name, FLAT)

    quiet = run_task(memory, config(name), apply=True)
    loud = run_task(memory, config(name, memory_warning="1MB"), apply=True)

    assert not findings(quiet, "memory.diagnostic") and not quiet.steps
    diagnostic = about(loud, "memory.diagnostic", proc.pid)
    assert diagnostic.severity is Severity.OK and "no diagnostic available" in diagnostic.message
    assert "--heapsnapshot-signal=SIGUSR2" in diagnostic.remedy and not loud.steps
    assert proc.poll() is None


def test_oom_kills_since_the_last_run_are_critical() -> None:
    assert oom_finding("/app", 0, None).severity is Severity.OK
    first = oom_finding("/app", 2, None)
    assert first.severity is Severity.WARNING and "before rota first looked" in first.message
    assert oom_finding("/app", 2, 2).severity is Severity.OK
    new = oom_finding("/app", 5, 2)
    assert new.severity is Severity.CRITICAL
    assert new.message == "3 OOM kills in cgroup /app since the last run (5 in all)"
    recreated = oom_finding("/app", 1, 4)
    assert recreated.severity is Severity.CRITICAL and "since it was recreated" in recreated.message
    assert "cannot be counted" in oom_finding("/app", None, 3).message


def test_json_output_shows_the_findings_and_metrics(
    rota: Any, nodes: Nodes, tmp_path: Path
) -> None:
    name = token("json-server")
    proc = nodes.start(name, FLAT)
    cfg = tmp_path / "rota.toml"
    cfg.write_text(f'[history]\nurl = "sqlite:///{tmp_path}/cli.db"\n' + config(name))

    r = rota("-c", str(cfg), "run", "monitor.memory", "--format", "json")

    # 0, or 1 should the test's own cgroup have seen an OOM kill before (a warning).
    assert r.code in (0, 1), r.err
    [outcome] = json.loads(r.out)["tasks"]
    assert outcome["id"] == "monitor.memory" and outcome["error"] is None
    codes = {f["code"] for f in outcome["findings"]}
    assert {"memory.rss", "memory.limit", "memory.leak"} <= codes
    rss = next(m for m in outcome["metrics"] if m["name"] == "memory.rss_bytes")
    assert rss["labels"] == {"pid": str(proc.pid), "name": "node"} and rss["unit"] == "bytes"


def test_theil_sen_fits_a_line_exactly() -> None:
    slope, intercept = theil_sen([(0, 10), (1, 12), (2, 14), (3, 16)])
    assert slope == 2 and intercept == 10


def test_theil_sen_is_not_moved_by_a_spike_so_a_spike_is_no_leak() -> None:
    flat = [(float(t), 100.0) for t in range(12)]
    flat[5] = (5.0, 10_000.0)  # one garbage-collection-sized spike
    assert theil_sen(flat)[0] == 0
    flat[-1] = (11.0, 10_000.0)  # even as the newest sample
    assert theil_sen(flat)[0] == 0


def test_theil_sen_keeps_the_trend_through_outliers() -> None:
    points = [(float(t), 50.0 + 3 * t) for t in range(20)]
    points[3] = (3.0, 0.0)
    points[11] = (11.0, 900.0)
    points[17] = (17.0, -40.0)
    slope, _ = theil_sen(points)
    assert slope == pytest.approx(3, rel=0.05)


def test_theil_sen_needs_two_distinct_times() -> None:
    with pytest.raises(ValueError, match="two points at different times"):
        theil_sen([(1.0, 5.0), (1.0, 9.0)])


# Grows 16 MiB every 20 ms (up to 1.6 GiB): into a cgroup's limit within a second.
GREEDY = """
const hog = [];
setInterval(() => { if (hog.length < 100) hog.push(Buffer.alloc(16 * 1024 * 1024, 1)); }, 20);
"""


def test_a_real_oom_kill_in_the_cgroup_since_the_last_run_is_critical(
    nodes: Nodes, history: History
) -> None:
    limit = 128 * MIB
    with memory_cgroup(limit, "rota-oom") as cgroup:
        name = token("oom-flat-server")
        flat = nodes.start(name, FLAT, prefix=join(cgroup))
        cfg = config(name)
        before = run_task(memory, cfg, history=history)
        [ok] = findings(before, "memory.oom_kill")
        assert ok.severity is Severity.OK and ok.evidence["oom_kill"] == 0, ok.message
        share = about(before, "memory.limit", flat.pid).evidence["limits"][0]
        assert share["kind"] == "memory.max" and share["limit_bytes"] == limit

        leaky = nodes.start(token("oom-leaky-server"), GREEDY, prefix=join(cgroup))
        assert leaky.wait(timeout=60) == -9  # the kernel's OOM killer, not node itself
        after = run_task(memory, cfg, history=history)

        [killed] = findings(after, "memory.oom_kill")
        assert killed.severity is Severity.CRITICAL, killed.message
        assert killed.message.startswith("1 OOM kill in cgroup ")
        assert killed.message.endswith(" since the last run (1 in all)")
        assert flat.poll() is None
        nodes.close()
