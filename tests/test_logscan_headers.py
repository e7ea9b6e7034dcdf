"""Headers recognised by shape: each format's header is split off, its time read, and
nothing of it (time, pid, weekday, host) is left in the line's template."""

from __future__ import annotations

import re

import pytest

from rota.logscan.formats import TimeReader, parse_line, parse_text
from rota.logscan.grouping import line_template
from rota.logscan.headers import split_header

# (line, rule, UTC hour or None, level, component, message)
CASES = [
    (
        "<13>1 2026-12-04T10:00:00.123456+01:00 web-1 myapp 4242 ID47 "
        '[exampleSDID@32473 iut="3"] User alice logged in',
        "rfc5424",
        "2026-12-04T09",
        None,
        "myapp",
        "User alice logged in",
    ),
    (
        "<13>Dec  4 10:00:00 web-1 myapp[4242]: User alice logged in",
        "syslog",
        "2026-12-04T10",
        None,
        "myapp",
        "User alice logged in",
    ),
    (
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; uid=0",
        "syslog",
        "2026-06-14T15",
        None,
        "sshd(pam_unix)",
        "authentication failure; uid=0",
    ),
    (
        "Jul  1 09:02:26 calvisitor-10-105-160-95 com.apple.xpc.launchd[1] "
        "(com.apple.xpc.launchd.domain.pid.WebContent.35704): Could not find uid",
        "syslog",
        "2026-07-01T09",
        None,
        "com.apple.xpc.launchd",
        "Could not find uid",
    ),
    (
        "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
        "bracketed",
        "2005-12-04T04",
        "notice",
        "",
        "workerEnv.init() ok /etc/httpd/conf/workers2.properties",
    ),
    (
        "[Fri Dec 04 10:00:00.123456 2026] [core:error] [pid 1234:tid 5678] "
        "[client 10.0.0.7:5678] AH00037: Symbolic link not allowed",
        "bracketed",
        "2026-12-04T10",
        "error",
        "AH00037",
        "Symbolic link not allowed",
    ),
    (
        '2026/12/04 10:00:00 [error] 1234#1234: *5 open() "/srv/x" failed (2: No such file)',
        "nginx",
        "2026-12-04T10",
        "error",
        "",
        'open() "/srv/x" failed (2: No such file)',
    ),
    (
        "2026-12-04 10:00:00,123 INFO  [main] com.acme.Billing - invoice sent",
        "text",
        "2026-12-04T10",
        "info",
        "main",
        "com.acme.Billing - invoice sent",
    ),
    (
        "2015-10-18 18:01:47,978 INFO org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created",
        "leveled",
        "2015-10-18T18",
        "info",
        "org.apache.hadoop.mapreduce.v2.app.MRAppMaster",
        "Created",
    ),
    (
        "10:00:00.123 [main] INFO  com.acme.Billing - invoice sent",
        "leveled",
        None,
        "info",
        "com.acme.Billing",
        "invoice sent",
    ),
    (
        "2026-12-04 10:00:00,123 - myapp.db - WARNING - pool exhausted",
        "leveled",
        "2026-12-04T10",
        "warn",
        "",
        "pool exhausted",
    ),
    ("WARNING:root:disk almost full", "python", None, "warn", "root", "disk almost full"),
    (
        "1796392800 INFO worker: queue drained",
        "leveled",
        "2026-12-04T14",
        "info",
        "worker",
        "queue drained",
    ),
    ("1796392800123 WARN cache full", "leveled", "2026-12-04T14", "warn", "", "cache full"),
    (
        'info: User alice logged in {"module":"app.auth"}',
        "level-first",
        None,
        "info",
        "",
        'User alice logged in {"module":"app.auth"}',
    ),
    (
        "2026-12-04T10:00:00.123456Z [info     ] user.login   [app.auth] ip=10.1.2.3",
        "leveled",
        "2026-12-04T10",
        "info",
        "user.login",
        "ip=10.1.2.3",
    ),
    (
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
        "leveled",
        "2008-11-09T20",
        "info",
        "dfs.DataNode$PacketResponder",
        "PacketResponder 1 terminating",
    ),
    (
        "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers",
        "leveled",
        "2017-06-09T20",
        "info",
        "executor.CoarseGrainedExecutorBackend",
        "Registered signal handlers",
    ),
    (
        "I1204 10:00:00.123456   12345 server.go:123] Serving on :8080",
        "klog",
        "2026-12-04T10",
        "info",
        "server.go:123",
        "Serving on :8080",
    ),
    (
        "2026/12/04 10:00:00 Connected to db: ok",
        "go",
        "2026-12-04T10",
        None,
        "",
        "Connected to db: ok",
    ),
    (
        "2026-12-04T10:00:00.123456789Z stdout F 2026-12-04 10:00:00,123 ERROR [worker] job died",
        "cri+text",
        "2026-12-04T10",
        "error",
        "worker",
        "job died",
    ),
    (
        "12-04 10:00:00.123  1702  2395 D WindowManager: freezing display",
        "logcat",
        "2026-12-04T10",
        "debug",
        "WindowManager",
        "freezing display",
    ),
    (
        "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601",
        "cbs",
        "2016-09-28T04",
        "info",
        "CBS",
        "Loaded Servicing Stack v6.1.7601",
    ),
    (
        "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
        "pipe",
        "2017-12-23T22",
        None,
        "Step_LSC",
        "onStandStepChanged 3579",
    ),
    (
        "[10.30 16:49:06] chrome.exe - proxy.example.org:5070 open through proxy",
        "bracketed",
        "2026-10-30T16",
        None,
        "chrome.exe",
        "proxy.example.org:5070 open through proxy",
    ),
    (
        "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: "
        "session closed for user root",
        "archive+syslog",
        "2026-11-09T12",
        None,
        "crond(pam_unix)",
        "session closed for user root",
    ),
    (
        "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
        "R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
        "archive+leveled",
        "2005-06-03T15",
        "info",
        "",
        "instruction cache parity error corrected",
    ),
    (
        "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change",
        "lanl",
        "2004-02-26T14",
        None,
        "unix.hw",
        "Component State Change",
    ),
    (
        "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO "
        "nova.osapi_compute.wsgi.server [req-38101a0b-2096 113d3a99 - - -] 10.11.10.1 "
        '"GET /v2/servers/detail HTTP/1.1" status: 200',
        "prefixed+leveled",
        "2017-05-16T00",
        "info",
        "nova.osapi_compute.wsgi.server",
        '10.11.10.1 "GET /v2/servers/detail HTTP/1.1" status: 200',
    ),
]


@pytest.mark.parametrize(("line", "rule", "hour", "level", "component", "message"), CASES)
def test_it_splits_the_header_of_each_format_off_the_message(
    line: str, rule: str, hour: str | None, level: str | None, component: str, message: str
) -> None:
    rec = parse_text(line)
    assert rec is not None, line
    assert (rec.rule, rec.level, rec.component, rec.message) == (rule, level, component, message)
    assert TimeReader(year=2026).hour(rec.ts) == hour


@pytest.mark.parametrize("case", CASES, ids=[c[1] for c in CASES])
def test_a_recognised_header_leaves_no_time_pid_weekday_or_host_in_the_template(
    case: tuple[str, ...],
) -> None:
    line = case[0]
    template = line_template(parse_line(line), line)
    for noise in ("2026", "2005", "10:00:00", "Sun ", "Fri ", "4242", "19939", "web-1", "combo"):
        assert noise not in template, (noise, template)


ACCESS = [
    '::1 - - [04/Dec/2026:10:00:00 +0000] "GET /api/x/12?y=1 HTTP/1.1" 200 123 "-" "curl/8.5"',
    '10.1.2.3 - frank [04/Dec/2026:10:00:00 -0700] "GET /api/x/12 HTTP/1.0" 200 2326',
    "GET /api/x/12 200 12.345 ms - 123",  # morgan dev
    "GET /api/x/12 200 123 - 12.345 ms",  # morgan tiny
    "::1 - GET /api/x/12 HTTP/1.1 200 123 - 12.345 ms",  # morgan short
]


@pytest.mark.parametrize("line", ACCESS)
def test_it_reads_access_log_lines_as_requests(line: str) -> None:
    rec = parse_text(line)
    assert rec is not None and rec.format == "access"
    assert (rec.method, rec.path, rec.status) == ("GET", rec.path, 200)
    assert rec.path is not None and rec.path.startswith("/api/x/12")
    assert line_template(rec, line) == "GET /api/x/:id 2xx"
    if "ms" in line:
        assert rec.duration_ms == 12.345


def test_it_reads_access_log_times_with_their_offset() -> None:
    rec = parse_text(ACCESS[1])
    assert rec is not None and TimeReader().hour(rec.ts) == "2026-12-04T17"


def test_it_reads_json_behind_a_container_runtime_prefix() -> None:
    rec = parse_text('2026-12-04T10:00:00.5Z stderr F {"level":50,"msg":"boom","time":1}')
    assert rec is not None and rec.format == "json" and rec.rule == "cri"
    assert (rec.level, rec.message) == ("error", "boom")


def test_a_line_of_no_known_shape_has_no_header() -> None:
    assert split_header("just some words with no header") is None
    assert parse_text("garbage without a timestamp") is None


def test_the_format_reference_documents_every_header_rule() -> None:
    from pathlib import Path

    from rota.logscan.headers import RULES

    doc = (Path(__file__).parents[1] / "docs" / "log-formats.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", doc, re.M))
    assert documented == {rule.name for rule in RULES}
