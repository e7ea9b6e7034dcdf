"""Plain-text line headers recognised by their shape, and split off the message.

A log line is a header (time, level, host, program, pid, thread, logger) and a message.
Only the message says *what happened*; a header left in it makes one event many groups
(``[Sun Dec 04 04:47:44 2005] [notice] ...`` keeps its weekday, ``sshd[19939]:`` its pid).
So each line is tried against the header shapes that real producers write, most specific
first, and the first that matches takes it:

- syslog: RFC 5424 (``<PRI>1 TS HOST APP PID MSGID [SD] MSG``), RFC 3164 on the wire and
  the traditional file format rsyslog and journald write (``Jun 14 15:16:01 host
  sshd(pam_unix)[19939]: MSG``, ``host tag[pid] (addr): MSG``), also behind an archive
  prefix (``- 1131566461 2005.11.09 node ...``);
- Apache and nginx: the error logs (``[Sun Dec 04 04:47:44 2005] [notice] ...``, 2.4's
  ``[module:level] [pid N:tid M] [client ...]``, nginx's ``2026/12/04 10:00:00 [error]
  1234#1234: *5 ...``) and the access logs (common, combined, and morgan's dev, short and
  tiny), which carry a request: method, path, status and, where written, its duration;
- Kubernetes and CRI container logs (``TS stdout F ...``, the rest read again), Go's klog
  (``I1204 10:00:00.123456 12345 file.go:12] ...``) and the standard ``log`` package;
- Android logcat (``threadtime``: ``12-04 10:00:00.123  1702  2395 D Tag: ...``), Windows
  CBS (``2016-09-28 04:30:30, Info  CBS  ...``), pipe-separated records
  (``TS|component|pid|...``), a bracketed time with a program (``[10.30 16:49:06] prog - ...``);
- Python ``logging`` (the default ``LEVEL:logger:message`` and ``asctime`` layouts),
  log4j, logback and their kin: a timestamp, then header tokens (a pid, ``-``, a
  ``[thread]``, a node name) up to a level word, then an optional ``[thread]`` or
  ``[context]`` and a ``logger:`` or ``logger -``.

Timestamps are read in these forms and handed on in one the :class:`TimeReader` reads:
ISO 8601 / RFC 3339, ``Sun Dec 04 04:47:44 2005``, syslog's ``Dec  4 04:47:44``,
``081109 203615``, ``2026/12/04``, ``17/06/09``, ``04/Dec/2026:10:00:00 +0000``,
``20171223-22:15:29:606``, ``2005-06-03-15.42.50.675872``, epoch seconds and
milliseconds. A date without a year (syslog, logcat, klog) is given as ``Mon DD
HH:MM:SS`` so the reader supplies the year.

A line no shape matches has no header: the caller decides (the analyzer counts it
unparsed; ``rota logs fingerprint`` groups its whole text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["RULES", "Header", "split_header"]


class Header(NamedTuple):
    rule: str  # the shape that took the line (shown by ``rota logs fingerprint --explain``)
    ts: str | float | None
    level: str | None  # as written; the caller folds case and aliases
    component: str
    message: str
    method: str | None = None
    path: str | None = None
    status: int | None = None
    duration_ms: float | None = None


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_MONTH = "(?:" + "|".join(_MONTHS) + ")"
_DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_FRAC = r"(?:[.,]\d+)?"
_ISO = rf"\d{{4}}-\d\d-\d\d[T ]\d\d:\d\d:\d\d{_FRAC}(?:Z|[+-]\d\d:?\d\d)?"
_SYSLOG_TS = rf"{_MONTH} {{1,2}}\d{{1,2}} \d\d:\d\d:\d\d{_FRAC}"
_LEVEL_WORDS = (
    "TRACE|DEBUG|INFO|INFORMATION|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|CRIT|PANIC"
    "|SEVERE|ALERT|EMERG|EMERGENCY|FINE|FINER|FINEST|CONFIG|VERBOSE|FAILURE"
)
_LEVEL_ANY_CASE = rf"(?i:{_LEVEL_WORDS})"
# Timestamps that may open a line, each with the function that normalises it.
_TS_FORMS: dict[str, str] = {
    "iso": _ISO,
    "bgl": r"\d{4}-\d\d-\d\d-\d\d\.\d\d\.\d\d(?:\.\d{1,9})?",
    "slash4": rf"\d{{4}}/\d\d/\d\d[ T]\d\d:\d\d:\d\d{_FRAC}",
    "slash2": rf"\d\d/\d\d/\d\d \d\d:\d\d:\d\d{_FRAC}",
    "compact": r"\d{8}-\d\d?:\d\d?:\d\d?(?:[:.]\d{1,6})?",
    "yymmdd": r"\d{6} \d{6}",
    "ctime": rf"{_DAY} {_MONTH} [ \d]\d \d\d:\d\d:\d\d(?:\.\d{{1,9}})? \d{{4}}",
    "syslog": _SYSLOG_TS,
    "mmdd": rf"\d\d-\d\d \d\d:\d\d:\d\d{_FRAC}",
    "mdot": rf"\d{{1,2}}\.\d{{1,2}} \d\d:\d\d:\d\d{_FRAC}",
    "epoch": r"1\d{9}(?:\.\d{1,6})?|1\d{12}",
    "clock": r"\d\d:\d\d:\d\d[.,]\d{3}",
}


def _norm_iso(ts: str) -> str | float | None:
    return ts


def _norm_bgl(ts: str) -> str:
    return f"{ts[:10]}T{ts[11:13]}:{ts[14:16]}:{ts[17:19]}{ts[19:]}"


def _norm_slash4(ts: str) -> str:
    return ts[:10].replace("/", "-") + ts[10:]


def _norm_slash2(ts: str) -> str:
    return f"20{ts[:2]}-{ts[3:5]}-{ts[6:8]}{ts[8:]}"


def _norm_compact(ts: str) -> str:
    """``20171223-22:15:29:606`` (fields may be unpadded: ``22:16:0:849``) as ISO 8601."""
    date, _, clock = ts.partition("-")
    fields = clock.replace(".", ":").split(":")
    hms = ":".join(f"{int(f):02d}" for f in fields[:3])
    frac = f".{fields[3]}" if len(fields) > 3 else ""
    return f"{date[:4]}-{date[4:6]}-{date[6:8]}T{hms}{frac}"


def _norm_yymmdd(ts: str) -> str:
    return f"20{ts[:2]}-{ts[2:4]}-{ts[4:6]}T{ts[7:9]}:{ts[9:11]}:{ts[11:13]}"


def _norm_ctime(ts: str) -> str:
    _, month, rest = ts.split(" ", 2)
    day, clock, year = rest.split()
    return f"{year}-{_MONTHS.index(month) + 1:02d}-{int(day):02d}T{clock}"


def _norm_syslog(ts: str) -> str:
    return " ".join(ts.split())


def _norm_mmdd(ts: str) -> str | None:
    month = int(ts[:2])
    if not 1 <= month <= 12:
        return None
    return f"{_MONTHS[month - 1]} {ts[3:5]} {ts[6:]}"


def _norm_mdot(ts: str) -> str | None:
    month, _, rest = ts.partition(".")
    day, _, clock = rest.partition(" ")
    if not 1 <= int(month) <= 12:
        return None
    return f"{_MONTHS[int(month) - 1]} {int(day):02d} {clock}"


def _norm_clock(ts: str) -> None:
    return None  # a time of day without a date: no hour can be placed


def _norm_clf(ts: str) -> str:
    """``04/Dec/2026:10:00:00 +0000`` (access logs) as ISO 8601."""
    month = _MONTHS.index(ts[3:6]) + 1
    offset = ts[21:].strip()
    return f"{ts[7:11]}-{month:02d}-{ts[:2]}T{ts[12:20]}{offset}"


def _norm_epoch(ts: str) -> float:
    value = float(ts)
    return value / 1000 if value > 1e11 else value


_NORMALISE: dict[str, Callable[[str], str | float | None]] = {
    "iso": _norm_iso,
    "bgl": _norm_bgl,
    "slash4": _norm_slash4,
    "slash2": _norm_slash2,
    "compact": _norm_compact,
    "yymmdd": _norm_yymmdd,
    "ctime": _norm_ctime,
    "syslog": _norm_syslog,
    "mmdd": _norm_mmdd,
    "mdot": _norm_mdot,
    "epoch": _norm_epoch,
    "clock": _norm_clock,
    "clf": _norm_clf,
}
_ANY_TS = "|".join(f"(?P<t_{name}>{rx})" for name, rx in _TS_FORMS.items())


def _ts(m: re.Match[str]) -> str | float | None:
    """The normalised timestamp of a match whose ``ts`` group is one of ``_ANY_TS``."""
    forms = _TS_GROUPS.get(m.re)
    if forms is None:
        index = m.re.groupindex
        forms = _TS_GROUPS[m.re] = [(g, n) for g, n in _NORMALISE.items() if f"t_{g}" in index]
    for name, norm in forms:
        value = m.group(f"t_{name}")
        if value is not None:
            return norm(value)
    return m.group("ts") if "ts" in m.re.groupindex else None


# which t_ groups each pattern has: looked up once per pattern, not per line
_TS_GROUPS: dict[re.Pattern[str], list[tuple[str, Callable[[str], str | float | None]]]] = {}


# --------------------------------------------------------------------------- the rules

_COMPONENT = r"[A-Za-z_$][\w.$/-]{0,120}(?:\([^()\s]{1,40}\))?(?:\[\d+\])?"
# What may follow the level: an optional bracketed thread or request context (one level
# of nesting: ``[QuorumPeer[myid=1]/0:0:0:0:2181:FastLeaderElection@774]``), then a
# logger name ended by ``:`` or `` -``.
_BRACKET = r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]"
_COMP_END = rf"(?::\s+|\s+-\s+|\s+(?={_BRACKET}\s))"
_TAIL = re.compile(
    # after a [thread], a logger must look like one (dotted) or end in " - "; otherwise
    # "[api] Cache: miss" would lose its component to the message's first word
    rf"(?:(?P<thread>{_BRACKET}):?\s+(?:-\s+)?"
    rf"(?:(?P<comp>(?=[^\s:]*[.$])(?:{_COMPONENT})){_COMP_END}|(?P<comp_b>{_COMPONENT})\s+-\s+)?"
    rf"|(?:-\s+)?(?:(?P<comp_c>{_COMPONENT}){_COMP_END})?)"
    rf"(?:(?P<ctx>{_BRACKET})\s+)?(?:-\s+)?"
    r"(?P<msg>.*)",
    re.DOTALL,
)
_HTTP_METHOD = r"GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|CONNECT|TRACE|PROPFIND"


class _Rule(NamedTuple):
    name: str
    regex: re.Pattern[str]
    build: Callable[[re.Match[str]], Header | None]


def _message_after_tail(name: str, ts: str | float | None, level: str | None, rest: str) -> Header:
    t = _TAIL.match(rest)
    assert t is not None  # the tail pattern matches any text
    logger = t.group("comp") or t.group("comp_b") or t.group("comp_c")
    component = logger or _strip_brackets(t.group("thread")) or ""
    component = _PID_SUFFIX.sub("", component)
    return Header(name, ts, level, component, t.group("msg"))


_PID_SUFFIX = re.compile(r"\[\d+\]$")


def _strip_brackets(text: str | None) -> str:
    return text[1:-1] if text else ""


def _simple(
    name: str, *, level: str | None = "level", comp: str | None = "comp"
) -> Callable[[re.Match[str]], Header | None]:
    def build(m: re.Match[str]) -> Header:
        lv = m.group(level) if level else None
        component = (m.group(comp) or "") if comp else ""
        return Header(name, _ts(m), lv, component, m.group("msg"))

    return build


def _cri(m: re.Match[str]) -> Header | None:
    inner = m.group("msg")
    ts = _ts(m)
    if inner[:1] == "{":
        return Header("cri", ts, None, "", inner)  # the caller reads JSON itself
    h = split_header(inner)
    if h is None:
        return Header("cri", ts, None, "", inner)
    return h._replace(rule=f"cri+{h.rule}", ts=h.ts if h.ts is not None else ts)


def _archive(m: re.Match[str]) -> Header | None:
    """An archive prefix (alert tag, epoch, date, node) before a line of its own shape."""
    h = split_header(m.group("msg"))
    if h is None or h.rule.startswith("archive"):
        return None
    ts = h.ts if h.ts is not None else float(m.group("epoch"))
    return h._replace(rule=f"archive+{h.rule}", ts=ts)


def _access(m: re.Match[str]) -> Header:
    status = m.group("status")
    duration = m.group("dur1") or m.group("dur2") if "dur1" in m.re.groupindex else None
    return Header(
        "access",
        _ts(m) if "ts" in m.re.groupindex else None,
        None,
        "",
        m.group("request"),
        m.group("method"),
        m.group("path"),
        int(status) if status and status.isdigit() else None,
        float(duration) if duration else None,
    )


def _leveled(m: re.Match[str]) -> Header:
    return _message_after_tail("leveled", _ts(m), m.group("level"), m.group("rest"))


def _klog(m: re.Match[str]) -> Header:
    month, day = int(m.group("mm")), m.group("dd")
    ts = f"{_MONTHS[month - 1]} {day} {m.group('clock')}" if 1 <= month <= 12 else None
    levels = {"I": "info", "W": "warn", "E": "error", "F": "fatal"}
    return Header("klog", ts, levels[m.group("lv")], m.group("comp"), m.group("msg"))


def _logcat(m: re.Match[str]) -> Header:
    levels = {"V": "trace", "D": "debug", "I": "info", "W": "warn", "E": "error"}
    levels |= {"F": "fatal", "A": "fatal", "S": "info"}
    return Header("logcat", _ts(m), levels[m.group("lv")], m.group("comp").strip(), m.group("msg"))


def _syslog(m: re.Match[str]) -> Header:
    # the tag without its pid and address: "sshd[24200]" and "sshd[24201]" are one program
    tag = _TAG_NOISE.sub("", m.group("comp")).strip()
    return Header("syslog", _ts(m), None, tag, m.group("msg"))


_TAG_NOISE = re.compile(r"\[\d+\]| \(.*\)$")


def _rfc5424(m: re.Match[str]) -> Header:
    app = m.group("app")
    ts = m.group("ts")
    return Header(
        "rfc5424", None if ts == "-" else ts, None, "" if app == "-" else app, m.group("msg")
    )


def _python_default(m: re.Match[str]) -> Header:
    return Header("python", None, m.group("level"), m.group("comp"), m.group("msg"))


def _bracketed(m: re.Match[str]) -> Header:
    rest = m.group("rest")
    lv = _BRACKET_LEVEL.match(rest)
    if lv is not None:
        return _message_after_tail("bracketed", _ts(m), lv.group(1), rest[lv.end() :])
    prog = _PROGRAM.match(rest)
    if prog is not None:
        return Header("bracketed", _ts(m), None, prog.group(1), rest[prog.end() :])
    return _message_after_tail("bracketed", _ts(m), None, rest)


_BRACKET_LEVEL = re.compile(
    rf"\[(?:[\w-]+:)?({_LEVEL_ANY_CASE})\]\s*(?:\[pid [^\]]*\]\s*)?(?:\[client [^\]]*\]\s*)?"
)
_PROGRAM = re.compile(r"([^\s\[\]]{1,80}(?: \*\d+)?) - ")


def _nginx(m: re.Match[str]) -> Header:
    return Header("nginx", _ts(m), m.group("level"), "", m.group("msg"))


def _cbs(m: re.Match[str]) -> Header:
    return Header("cbs", _ts(m), m.group("level"), m.group("comp"), m.group("msg"))


def _pipe(m: re.Match[str]) -> Header:
    fields = m.group("rest").split("|", 2)  # component|pid|message (the message keeps its "|")
    return Header("pipe", _ts(m), None, fields[0] if len(fields) > 1 else "", fields[-1])


# (name, first characters a match can start with, pattern, builder); tried in this order.
_RULES_SOURCE: list[tuple[str, str, str, Callable[[re.Match[str]], Header | None]]] = [
    # Kubernetes / CRI: the container runtime's own prefix; the rest is the app's line.
    ("cri", r"\d", rf"(?P<ts>{_ISO}) (?:stdout|stderr) [FP] (?P<msg>.*)", _cri),
    (
        "rfc5424",
        r"[<1]",
        rf"(?:<\d{{1,3}}>)?1 (?P<ts>{_ISO}|-) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) \S+ "
        r"(?:-|(?:\[(?:[^\]\\]|\\.)*\])+) ?\ufeff?(?P<msg>.*)",
        _rfc5424,
    ),
    # Sandia/USENIX archives: alert tag, epoch, date, node, then the line as logged.
    (
        "archive",
        r"[-A-Z]",
        r"(?:-|[A-Z][A-Z_]*) (?P<epoch>1\d{9}) \d{4}\.\d\d\.\d\d \S+ (?P<msg>.*)",
        _archive,
    ),
    # The Los Alamos HPC record: id, node, component, state, epoch, flag, message.
    (
        "lanl",
        r"\d",
        r"\d+ (?P<node>\S+) (?P<comp>\S+) (?P<state>\S+) (?P<ts>(?P<t_epoch>1\d{9})) [01] (?P<msg>.*)",
        _simple("lanl", level=None),
    ),
    # syslog, on the wire or in a file: time, host, tag[pid] (address), then ":".
    (
        "syslog",
        r"[<A-Z\d]",
        rf"(?:<\d{{1,3}}>)?(?P<ts>(?P<t_syslog>{_SYSLOG_TS})|(?P<t_iso>{_ISO})) "
        rf"(?!(?:{_LEVEL_WORDS})\b)(?P<host>[^\s\[\]]+) "
        r"(?P<comp>[^\s\[\]:][^\[\]:]{0,40}?(?:\[\d+\])?(?: \([^()]*(?:\([^()]*\)[^()]*)*\))?):"
        r"(?: |$)(?P<msg>.*)",
        _syslog,
    ),
    # Apache's error log, Monolog, Proxifier: a bracketed time first.
    ("bracketed", r"\[", rf"\[(?P<ts>{_ANY_TS})\] (?P<rest>.*)", _bracketed),
    (
        "access",
        r"\S",
        r"\S+ \S+ \S+ \[(?P<ts>(?P<t_clf>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d(?: [+-]\d{4})?))\] "
        r"\"(?P<request>(?P<method>[A-Z]{3,9}) (?P<path>\S+)(?: [^\"]*)?)\" "
        r"(?P<status>\d{3}|-) (?:\d+|-)(?: \"[^\"]*\" \"[^\"]*\")?",
        _access,
    ),
    (
        "access-short",
        r"\S",
        rf"(?:\S+ \S+ )?(?P<request>(?P<method>{_HTTP_METHOD}) (?P<path>/\S*|\*|https?://\S+)"
        r"(?: HTTP/[\d.]+)?) (?P<status>\d{3}|-) "
        r"(?:(?P<dur1>\d+(?:\.\d+)?) ms - (?:\d+|-)|(?:\d+|-) - (?P<dur2>\d+(?:\.\d+)?) ms)$",
        _access,
    ),
    (
        "klog",
        "[IWEF]",
        r"(?P<lv>[IWEF])(?P<mm>\d\d)(?P<dd>\d\d) (?P<clock>\d\d:\d\d:\d\d\.\d{1,9})\s+\d+ "
        r"(?P<comp>[^\s:\]]+(?::\d+)?)\] (?P<msg>.*)",
        _klog,
    ),
    (
        "logcat",
        r"\d",
        r"(?P<ts>(?P<t_mmdd>\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})|(?P<t_iso>" + _ISO + r"))"
        r"\s+\d+\s+\d+ (?P<lv>[VDIWEFAS]) (?P<comp>[^:]{0,80}?)\s*: ?(?P<msg>.*)",
        _logcat,
    ),
    (
        "cbs",
        r"\d",
        rf"(?P<ts>(?P<t_iso>{_ISO})), (?P<level>Info|Warning|Error|Fatal|Debug)\s+(?P<comp>\S+)"
        r"\s+(?P<msg>.*)",
        _cbs,
    ),
    (
        "nginx",
        r"\d",
        r"(?P<ts>(?P<t_slash4>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)) \[(?P<level>\w+)\] \d+#\d+: "
        r"(?:\*\d+ )?(?P<msg>.*)",
        _nginx,
    ),
    ("pipe", r"[\dA-Z]", rf"(?P<ts>{_ANY_TS})\|(?P<rest>.*)", _pipe),
    (
        "python",
        "[A-Z]",
        r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):(?P<comp>[^\s:]*):(?P<msg>.*)",
        _python_default,
    ),
    # A level first: winston's simple format ("info: message {meta}"), many CLIs.
    (
        "level-first",
        "[A-Za-z]",
        rf"(?P<level>{_LEVEL_ANY_CASE}): (?P<msg>.*)",
        _simple("level-first", comp=None),
    ),
    # The analyzer's long-standing plain shape: ``TS LEVEL [component] message``.
    (
        "text",
        r"\d",
        rf"(?P<ts>{_ISO})\s+\[?(?P<level>{_LEVEL_ANY_CASE})\]?:?\s+\[(?P<comp>[^\]]{{1,80}})\]:?\s*"
        r"(?P<msg>.*)",
        _simple("text"),
    ),
    # A timestamp, then header tokens (pid, "-", [thread], NODE, RAS, logger -) up to a level.
    (
        "leveled",
        r"[\dA-Z]",
        rf"(?P<ts>{_ANY_TS}),?\s+"
        rf"(?:(?:\d+|-|{_BRACKET}|[A-Z][A-Z0-9_]*|\S*\d\S*|[\w.$-]+(?=\s+-\s))\s+){{0,4}}?"
        rf"\[?(?P<level>{_LEVEL_ANY_CASE})(?:\s*\])?:?\s+(?P<rest>.*)",
        _leveled,
    ),
    # Go's standard log, and any timestamp followed by a message.
    ("go", r"[\dA-Z]", rf"(?P<ts>{_ANY_TS})\s+(?P<msg>.*)", _simple("go", level=None, comp=None)),
]

RULES: tuple[_Rule, ...] = tuple(
    _Rule(name, re.compile(rx, re.DOTALL), build) for name, _, rx, build in _RULES_SOURCE
)
# A text each rule's match must contain: a substring test costs far less than a failed
# match, and most lines are ruled out by it for most rules.
_NEEDS = {
    "cri": " std",
    "syslog": ":",
    "bracketed": "] ",
    "access": '"',
    "access-short": " ms",
    "klog": "] ",
    "cbs": ", ",
    "nginx": "#",
    "pipe": "|",
    "python": ":",
    "level-first": ": ",
    "text": "[",
}
_STARTS = tuple(
    (re.compile(first), rule) for (_, first, _, _), rule in zip(_RULES_SOURCE, RULES, strict=True)
)
# Rules are tried only where their first character can start: most lines need one or two.
_FIRST: dict[str, tuple[tuple[_Rule, str], ...]] = {}


def _candidates(first: str) -> tuple[tuple[_Rule, str], ...]:
    rules = _FIRST.get(first)
    if rules is None:
        rules = tuple(
            (rule, _NEEDS.get(rule.name, "")) for start, rule in _STARTS if start.fullmatch(first)
        )
        if len(_FIRST) < 4096:
            _FIRST[first] = rules
    return rules


def split_header(line: str) -> Header | None:
    """The line's header and message by the first rule whose shape it has, or None.

    A line whose own header follows one leading word (a file name that a collector
    prepended: ``nova-api.log.1 2017-05-16 00:00:00.008 25746 INFO ...``) is read after it
    when nothing matched at the start and what follows carries a time."""
    if "\x1b" in line:  # colours (morgan's dev format, chalk, structlog): not part of the text
        line = _ANSI.sub("", line)
    h = _split(line)
    if h is None:
        space = line.find(" ", 1, 200)
        if space != -1 and line[:1] not in '[{<"':
            inner = _split(line[space + 1 :])
            if inner is not None and inner.ts is not None and inner.rule != "go":
                return inner._replace(rule=f"prefixed+{inner.rule}")
    return h


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _split(line: str) -> Header | None:
    if not line:
        return None
    for rule, needs in _candidates(line[0]):
        if needs not in line:
            continue
        m = rule.regex.match(line)
        if m is None:
            continue
        h = rule.build(m)
        if h is not None:
            return h
    return None
