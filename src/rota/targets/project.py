"""Project target: the application's source tree, read-only, and its git repository.

:class:`Project` walks the tree ``[env] project`` names without following symlinks and
skipping what is not the project's own text (``.git``, ``node_modules``, virtualenvs and
caches, binary files, files over ``max_file_size``), and asks git, through subprocesses
with a timeout and never a secret in their arguments, whether a path is ignored, which
commits touched it, and what lines history added. It also reads the environment of the
service's processes (``/proc/PID/environ``) when ``[process]`` is configured, so that the
environment audit's optional source needs no second target kind: a task that put
``process`` in its needs would be skipped whenever ``[process]`` is absent.

Nothing here writes; tasks read the tree through this instead of ``os.walk`` and
``subprocess`` of their own.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rota.errors import TargetUnavailable

if TYPE_CHECKING:
    from rota.targets.process import Processes

__all__ = ["SKIP_DIRS", "Project"]

SKIP_DIRS = frozenset(
    {
        ".git",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".cache",
        ".hg",
        ".svn",
        "bower_components",
    }
)
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass
class Project:
    """A source tree at ``root``; ``process`` (optional) is the [process] target whose
    processes' environment :meth:`process_environ` reads."""

    root: Path
    max_file_size: int = 2 * 1024 * 1024
    git_timeout: float = 60.0
    process: Processes | None = None
    skipped: dict[str, int] = field(default_factory=lambda: {"binary": 0, "too_large": 0})

    def __post_init__(self) -> None:
        if not self.root.is_dir():
            raise TargetUnavailable(f"{self.root}: not a directory")

    # -- files -----------------------------------------------------------------------------
    def files(self) -> Iterator[str]:
        """Every regular file's path relative to the root, sorted per directory."""
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            base = Path(dirpath)
            for name in sorted(filenames):
                path = base / name
                if path.is_file() and not path.is_symlink():
                    yield path.relative_to(self.root).as_posix()

    def read_text(self, rel: str) -> str | None:
        """The file's text, or None when it is binary (a NUL in its first 8 KiB) or larger
        than ``max_file_size``."""
        path = self.root / rel
        try:
            if path.stat().st_size > self.max_file_size:
                self.skipped["too_large"] += 1
                return None
            data = path.read_bytes()
        except OSError:
            return None
        if b"\0" in data[:8192]:
            self.skipped["binary"] += 1
            return None
        return data.decode("utf-8", errors="replace")

    def texts(self, suffixes: tuple[str, ...] | None = None) -> Iterator[tuple[str, str]]:
        """(relative path, text) for every text file, or those ending in ``suffixes``."""
        for rel in self.files():
            if suffixes is not None and not rel.endswith(suffixes):
                continue
            text = self.read_text(rel)
            if text is not None:
                yield rel, text

    def glob(self, patterns: list[str]) -> list[str]:
        """Files whose path relative to the root matches a pattern (``.env.*``); patterns
        without a slash match in the root only, as the dotenv loaders look there."""
        out = []
        for rel in self.files():
            for pattern in patterns:
                if fnmatch.fnmatchcase(rel, pattern.removeprefix("./")):
                    out.append(rel)
                    break
        return out

    def mode(self, rel: str) -> int:
        return (self.root / rel).stat().st_mode & 0o7777

    # -- git -------------------------------------------------------------------------------
    def _git(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_PAGER": "cat"}
        try:
            return subprocess.run(
                ["git", "-C", str(self.root), "-c", "core.quotepath=off", *args],
                input=stdin,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.git_timeout,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise TargetUnavailable(f"git {args[0]} took over {self.git_timeout:g}s") from e

    def is_git(self) -> bool:
        """git is installed and the root is inside a work tree."""
        if shutil.which("git") is None:
            return False
        r = self._git("rev-parse", "--is-inside-work-tree")
        return r.returncode == 0 and r.stdout.strip() == "true"

    def ignored(self, rels: list[str]) -> set[str]:
        """Those of ``rels`` git ignores (paths go through stdin, not argv)."""
        if not rels:
            return set()
        r = self._git("check-ignore", "--stdin", "--no-index", stdin="\n".join(rels) + "\n")
        if r.returncode not in (0, 1):
            raise TargetUnavailable(f"git check-ignore failed: {r.stderr.strip()[:200]}")
        return {line for line in r.stdout.splitlines() if line}

    def commits_touching(self, rel: str) -> list[str]:
        """Commit ids, on any ref, that added or changed ``rel``."""
        r = self._git("log", "--all", "--format=%H", "--", rel)
        return r.stdout.split() if r.returncode == 0 else []

    def history_hunks(self) -> Iterator[tuple[str, str, int, str]]:
        """(commit, path, first line, added lines) for every hunk on every ref."""
        r = self._git(
            "log", "-p", "--all", "-U0", "--no-color", "--no-ext-diff", "--no-renames",
            "--format=%x00%H",
        )  # fmt: skip
        if r.returncode != 0:
            raise TargetUnavailable(f"git log failed: {r.stderr.strip()[:200]}")
        commit = path = ""
        start, added = 0, []  # type: tuple[int, list[str]]
        in_header = False

        def flush() -> Iterator[tuple[str, str, int, str]]:
            if added and path:
                yield commit, path, start, "\n".join(added)

        for line in r.stdout.splitlines():
            if line.startswith("\0"):
                yield from flush()
                commit, path, added = line[1:].strip(), "", []
            elif line.startswith("diff --git "):
                yield from flush()
                path, added, in_header = "", [], True
            elif in_header and line.startswith("+++ "):
                target = line[4:]
                path = target[2:] if target.startswith("b/") else ""
            elif m := _HUNK.match(line):
                yield from flush()
                start, added, in_header = int(m.group(1)), [], False
            elif not in_header and line.startswith("+"):
                added.append(line[1:])
        yield from flush()

    # -- the service's environment ------------------------------------------------------------
    def process_environ(self) -> tuple[dict[str, str] | None, str]:
        """The environment of the service's selected processes (their union), and a note.

        None when there is no [process] target, no process, or none readable (another
        user's /proc/PID/environ needs that user or root)."""
        if self.process is None:
            return None, "[process] is not set: the running service's environment was not read"
        samples = [s for s in self.process.find() if s.selected]
        if not samples:
            return None, "no process matches [process]: its environment was not read"
        env: dict[str, str] = {}
        unreadable = []
        for s in samples:
            try:
                raw = Path(f"/proc/{s.pid}/environ").read_bytes()
            except OSError as e:
                unreadable.append(f"pid {s.pid}: {e.strerror}")
                continue
            for item in raw.split(b"\0"):
                name, sep, value = item.decode(errors="replace").partition("=")
                if sep and name:
                    env.setdefault(name, value)
        pids = ", ".join(str(s.pid) for s in samples)
        if unreadable and not env:
            return None, "could not read the service's environment (" + "; ".join(unreadable) + ")"
        return env, f"read the environment of pid {pids}"
