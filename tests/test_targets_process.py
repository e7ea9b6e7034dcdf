"""The process target against real Node.js processes: finding, reading memory, signalling."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from nodes import FLAT, PARENT, Nodes, join, memory_cgroup, token
from rota.config import parse_config
from rota.errors import ConfigError, TargetUnavailable
from rota.targets import TargetRequest, open_process, process_configured
from rota.targets.process import (
    MIB,
    Processes,
    ProcessSample,
    SignalRefused,
    caught_signals,
    node_info,
    node_options,
    parse_memory_events,
)


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    started = Nodes(tmp_path)
    yield started
    started.close()


def only(samples: list[ProcessSample], pid: int) -> ProcessSample:
    return next(s for s in samples if s.pid == pid)


def test_it_finds_a_matching_process_with_its_memory(nodes: Nodes) -> None:
    name = token("flat-server")
    proc = nodes.start(name, FLAT)

    found = Processes(match=f"node.*{name}").find()

    assert [s.pid for s in found] == [proc.pid]
    s = found[0]
    assert s.selected and s.root == proc.pid and s.ppid == os.getpid()
    assert s.name == "node" and s.cmdline[-1].endswith(f"{name}.js")
    assert s.create_time == psutil.Process(proc.pid).create_time()
    assert s.uptime_s > 0 and s.cwd == str(nodes.dir)
    # It holds an 8 MiB buffer it filled, on top of node itself.
    assert s.rss > 16 * MIB
    assert s.pss is not None and 0 < s.pss <= s.rss  # readable: the same user
    assert s.swap is not None and s.swap >= 0
    assert s.node is not None and s.node.heap_limit is None
    assert "SIGTERM" in s.catches and "SIGUSR2" not in s.catches  # no diagnostic asked for


def test_it_counts_children_and_grandchildren_in_the_tree(nodes: Nodes) -> None:
    name = token("parent-server")
    proc = nodes.start(name, PARENT)
    target = Processes(match=name)

    deadline = time.monotonic() + 10
    found = target.find()
    while len(found) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
        found = target.find()

    assert len(found) == 3
    assert found[0].pid == proc.pid and found[0].selected
    assert all(s.root == proc.pid for s in found)
    child = next(s for s in found if s.ppid == proc.pid)
    grandchild = next(s for s in found if s.ppid == child.pid)
    assert not child.selected and child.cmdline[1] == "-e"
    assert grandchild.name == "sleep" and grandchild.node is None


def test_a_pattern_that_matches_nothing_is_unavailable_with_the_reason() -> None:
    name = token("no-such-server")
    with pytest.raises(TargetUnavailable, match=f"^no process matches '{name}'$"):
        Processes(match=name).find()


def test_it_leaves_out_itself_and_commands_that_only_quote_the_pattern(nodes: Nodes) -> None:
    name = token("quoted-server")
    pattern = f"node.*{name}"
    proc = nodes.start(name, FLAT)
    # What pgrep -f or grep looks like to a scan: the pattern's own text on a command line.
    grep = subprocess.Popen(["sh", "-c", f"sleep 30; : '{pattern}'"], start_new_session=True)
    try:
        assert [s.pid for s in Processes(match=pattern).find()] == [proc.pid]
        everything = Processes(match=".").find()
        assert os.getpid() not in {s.pid for s in everything}
    finally:
        os.killpg(grep.pid, signal.SIGKILL)  # the shell and its sleep
        grep.wait()


def test_it_reads_the_v8_heap_limit_from_the_command_line_and_node_options(
    nodes: Nodes,
) -> None:
    flag = token("heap-flag-server")
    env = token("heap-env-server")
    both = token("heap-both-server")
    after = token("heap-after-server")
    pids = {
        flag: nodes.start(flag, FLAT, "--max-old-space-size=64").pid,
        env: nodes.start(env, FLAT, env={"NODE_OPTIONS": "--max-old-space-size=96"}).pid,
        both: nodes.start(
            both, FLAT, "--max_old_space_size=64", env={"NODE_OPTIONS": "--max-old-space-size=96"}
        ).pid,
    }
    # After the script, the flag is the program's argument, not node's.
    late = nodes.start(after, FLAT, args=("--max-old-space-size=32",))

    found = Processes(match="heap-(flag|env|both|after)-server").find()
    limits = {s.pid: s.heap_limit for s in found}

    assert limits[pids[flag]] == 64 * MIB
    assert limits[pids[env]] == 96 * MIB
    assert limits[pids[both]] == 64 * MIB  # the command line wins over NODE_OPTIONS
    assert limits[late.pid] is None


def test_it_tells_nodes_own_options_from_the_programs_arguments() -> None:
    assert node_options(["node", "-r", "./t.js", "--inspect", "server.js", "--port=1"]) == [
        "-r",
        "./t.js",
        "--inspect",
    ]
    assert node_options(["node", "--max-old-space-size=64", "-e", "x", "--a"]) == [
        "--max-old-space-size=64"
    ]
    info = node_info(
        ["node", "--report-on-signal", "--diagnostic-dir=/var/diag", "server.js"],
        '--heapsnapshot-signal=SIGUSR1 --report-signal="SIGHUP"',
    )
    assert info.heapsnapshot_signal == "SIGUSR1" and info.report_signal == "SIGHUP"
    assert info.diagnostic_dir == "/var/diag" and info.heap_limit is None
    assert node_info(["node", "--report-on-signal", "s.js"]).report_signal == "SIGUSR2"


def test_it_reads_oom_kills_from_the_cgroups_memory_events(nodes: Nodes) -> None:
    sample = "low 0\nhigh 4\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"
    assert parse_memory_events(sample) == {
        "low": 0,
        "high": 4,
        "max": 12,
        "oom": 3,
        "oom_kill": 2,
        "oom_group_kill": 0,
    }
    name = token("oom-count-server")
    nodes.start(name, FLAT)
    cgroup = Processes(match=name).find()[0].cgroup
    if cgroup is None:  # no memory controller visible: the documented format is all we have
        return
    events = "memory.events" if cgroup.version == 2 else "memory.oom_control"
    real = parse_memory_events((Path(cgroup.dir) / events).read_text())
    assert cgroup.oom_kills == real["oom_kill"] and cgroup.events == real
    assert cgroup.memory_current is not None and cgroup.memory_current > 0
    assert cgroup.working_set is not None and cgroup.working_set <= cgroup.memory_current


def test_it_selects_by_cgroup_and_filters_by_match(nodes: Nodes) -> None:
    name = token("cgroup-server")
    proc = nodes.start(name, FLAT)
    with pytest.raises(TargetUnavailable, match="no process runs in cgroup /no/such/cgroup"):
        Processes(cgroup="/no/such/cgroup").find()
    own = [line.split(":", 2)[2] for line in Path(f"/proc/{proc.pid}/cgroup").read_text().split()]
    path = next((p for p in own if p != "/"), None)
    if path is None:
        return  # every hierarchy shows the root here: nothing narrower to select
    found = Processes(cgroup=path, match=name).find()
    assert [s.pid for s in found] == [proc.pid]
    cgroup = found[0].cgroup
    if cgroup is not None:  # written as its directory under /sys/fs/cgroup, too
        assert [s.pid for s in Processes(cgroup=cgroup.dir, match=name).find()] == [proc.pid]


def test_it_selects_a_units_processes_by_its_cgroup(nodes: Nodes) -> None:
    # systemd puts a unit's processes in a cgroup named after it; so does this test.
    with memory_cgroup(256 * MIB, "rota-test-app") as cgroup:
        unit = f"{cgroup.name}.service"
        service = cgroup.parent / unit
        cgroup.rename(service)
        try:
            proc = nodes.start(token("unit-server"), PARENT, prefix=join(service))
            deadline = time.monotonic() + 10
            while len(found := Processes(unit=unit).find()) < 3:
                assert time.monotonic() < deadline, "the child and grandchild did not start"
                time.sleep(0.05)
            # The tree's head is the one whose parent is outside the unit.
            assert found[0].pid == proc.pid and [s.root for s in found] == [proc.pid] * 3
            assert found[0].cgroup is not None and found[0].cgroup.memory_max == 256 * MIB
            assert [s.pid for s in Processes(unit=cgroup.name).find()][:1] == [proc.pid]
            with pytest.raises(TargetUnavailable, match="no process runs in systemd unit"):
                Processes(unit="rota-no-such.service").find()
        finally:
            nodes.close()
            service.rename(cgroup)


def test_a_pid_file_selects_its_process_and_match_catches_a_stale_one(
    nodes: Nodes, tmp_path: Path
) -> None:
    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)
    pid_file = tmp_path / "app.pid"
    pid_file.write_text(f"{sleeper.pid}\n")
    try:
        # match's default does not judge a pid file; written out, it does.
        cfg = parse_config(f'[process]\npid_file = "{pid_file}"\n')
        assert [s.pid for s in open_process(TargetRequest(cfg)).find()] == [sleeper.pid]
        cfg = parse_config(f'[process]\npid_file = "{pid_file}"\nmatch = "node.*server"\n')
        with pytest.raises(TargetUnavailable, match=r"which does not match 'node\.\*server'"):
            open_process(TargetRequest(cfg)).find()
    finally:
        sleeper.kill()
        sleeper.wait()
    with pytest.raises(TargetUnavailable, match="which is not running: a stale pid file"):
        Processes(pid_file=pid_file).find()


def test_it_is_configured_by_a_process_section_even_an_empty_one() -> None:
    assert process_configured(parse_config("")) is not None
    assert process_configured(parse_config("[process]\n")) is None
    assert parse_config("[process]\n").process.match == "node.*server"
    with pytest.raises(ConfigError) as bad:
        parse_config('[process]\nunit = "app"\ncgroup = "/app"\nmatch = "("\n')
    assert bad.value.problems == [
        "process.match (line 4): not a valid regex: missing ), unterminated subpattern at position 0"
    ]
    with pytest.raises(ConfigError) as bad:
        parse_config('[process]\nunit = "app"\ncgroup = "/app"\n')
    assert bad.value.problems == [
        "process (line 1): set only one of pid_file, unit and cgroup (got unit, cgroup)"
    ]


def test_signal_is_refused_in_check_mode_and_to_a_process_that_would_die(
    nodes: Nodes,
) -> None:
    name = token("plain-server")
    proc = nodes.start(name, FLAT)
    readonly = Processes(match=name)
    readonly.find()
    with pytest.raises(PermissionError, match="in check mode"):
        readonly.signal(proc.pid, "SIGUSR2")

    target = Processes(match=name, readonly=False)
    with pytest.raises(SignalRefused, match="not one of the processes this target found"):
        target.signal(proc.pid, "SIGUSR2")  # nothing found yet
    target.find()
    # node without --heapsnapshot-signal does not catch SIGUSR2: it would end it.
    with pytest.raises(SignalRefused, match="does not catch SIGUSR2"):
        target.signal(proc.pid, "USR2")
    assert proc.poll() is None


def test_signal_reaches_a_process_that_catches_it(nodes: Nodes) -> None:
    name = token("report-server")
    proc = nodes.start(name, FLAT, "--report-on-signal")
    target = Processes(match=name, readonly=False)
    [s] = target.find()
    assert s.node is not None and s.node.report_signal == "SIGUSR2" and "SIGUSR2" in s.catches

    target.signal(proc.pid, "SIGUSR2")

    deadline = time.monotonic() + 10
    while not list(nodes.dir.glob(f"report.*.{proc.pid}.*.json")):
        assert time.monotonic() < deadline, "no diagnostic report was written"
        time.sleep(0.05)
    assert proc.poll() is None


def test_caught_signals_reads_a_sigcgt_mask() -> None:
    assert caught_signals("0000000000000800") == {"SIGUSR2"}
    assert caught_signals("0000000000004a02") == {"SIGINT", "SIGUSR1", "SIGUSR2", "SIGTERM"}
    assert caught_signals("zz") == frozenset()
