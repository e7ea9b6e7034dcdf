"""Process groups: ending a child and everything it started, and telling when it has ended.

A leaf module: the engine stops a timed-out task's subprocesses with it, and the targets
that start subprocesses (pg_dump, pg_restore) use it for their own timeouts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

# How long a subprocess has to exit after SIGTERM before it gets SIGKILL.
KILL_GRACE_S = 2.0


def kill_process_group(pgid: int, grace: float = KILL_GRACE_S) -> None:
    """SIGTERM process group ``pgid``, then SIGKILL whatever is left of it after ``grace``."""
    if pgid <= 0:
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        time.sleep(0.02)
        if not _group_alive(pgid):
            return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs. Zombies do not count: a leader
    that died waits for its own thread to reap it, which may be the one waiting here."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False
