"""npmproject target: git and npm for fixing a project's dependencies, away from its tree.

:class:`NpmProject` gives a task a scratch copy of a project (:meth:`scratch`: a
``git worktree`` on a new branch when the project is in a git repository, else a copy in
a temp dir), runs npm and the project's test command in it, and keeps the result as a
branch or a patch, or discards it. The working tree itself is only ever read.

Every command runs in its own session (its own process group) with a timeout; on a
timeout or when the task is cancelled (:meth:`cancel`, which the context registers) the
whole group is killed, so an ``npm test`` that started a server does not outlive it.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rota.errors import RotaError, TargetUnavailable
from rota.process import KILL_GRACE_S, kill_process_group

__all__ = ["CommandResult", "NpmProject", "Scratch"]

# Lines of a command's output kept for the report.
TAIL_LINES = 30
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_PAGER": "cat"}


class CommandFailed(RotaError):
    """A git or npm command that exited non-zero or ran past its timeout."""

    def __init__(self, what: str, result: CommandResult) -> None:
        why = "timed out" if result.timed_out else f"exited {result.returncode}"
        last = result.tail.strip().splitlines()[-1:] or [""]
        super().__init__(f"{what} {why}" + (f": {last[0][:200]}" if last[0] else ""))
        self.result = result


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int | None  # None: killed at the timeout
    output: str  # stdout and stderr, interleaved
    took: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def tail(self) -> str:
        """The output's last TAIL_LINES lines."""
        return "\n".join(self.output.rstrip().splitlines()[-TAIL_LINES:])


@dataclass(frozen=True)
class Scratch:
    """A scratch copy: ``dir`` is the project inside it. With git, ``worktree`` is the
    worktree's root, ``repo`` the repository's and ``branch`` the new branch."""

    project: Path
    dir: Path
    worktree: Path
    repo: Path | None = None
    branch: str | None = None

    @property
    def git(self) -> bool:
        return self.repo is not None

    def rel(self, name: str) -> str:
        """``name`` in the project, relative to the repository root (for git pathspecs)."""
        return (self.dir / name).relative_to(self.worktree).as_posix()


class NpmProject:
    """git and npm for one task, read-only in check mode (nothing runs then)."""

    def __init__(self, *, readonly: bool = True, timeout: float = 600) -> None:
        self.readonly = readonly
        self.timeout = timeout
        self._groups: set[int] = set()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()

    # -- running -------------------------------------------------------------------------
    def run(
        self,
        argv: list[str],
        cwd: Path,
        *,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        """Run ``argv`` in ``cwd`` in its own process group; never raises for its exit."""
        if self._cancelled.is_set():
            return CommandResult(tuple(argv), None, "cancelled", 0.0, timed_out=True)
        limit = self.timeout if timeout is None else timeout
        t0 = time.monotonic()
        with tempfile.TemporaryFile() as out:
            try:
                p = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **(env or {})},
                    start_new_session=True,
                )
            except OSError as exc:
                raise TargetUnavailable(f"cannot run {argv[0]}: {exc.strerror}") from None
            with self._lock:
                self._groups.add(p.pid)
            timed_out = False
            try:
                p.wait(limit)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                # The group goes even when the leader exited: a server it started stays in it.
                kill_process_group(p.pid, 0 if p.poll() is not None else KILL_GRACE_S)
                with contextlib.suppress(Exception):
                    p.wait(5)
                with self._lock:
                    self._groups.discard(p.pid)
            out.seek(0)
            text = out.read().decode(errors="replace")
        cancelled = self._cancelled.is_set()
        rc = None if timed_out or cancelled else p.returncode
        return CommandResult(tuple(argv), rc, text, time.monotonic() - t0, timed_out or cancelled)

    def check(
        self,
        what: str,
        argv: list[str],
        cwd: Path,
        *,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        """:meth:`run`, raising :class:`CommandFailed` unless it exits 0."""
        r = self.run(argv, cwd, timeout=timeout, env=env)
        if not r.ok:
            raise CommandFailed(what, r)
        return r

    def git(self, cwd: Path, *args: str) -> CommandResult:
        return self.run(
            ["git", "-C", str(cwd), "-c", "core.quotepath=off", *args], cwd, env=_GIT_ENV
        )

    def npm(self, cwd: Path, *args: str, timeout: float | None = None) -> CommandResult:
        return self.check(f"npm {args[0]}", ["npm", *args], cwd, timeout=timeout)

    def shell(self, command: str, cwd: Path, *, timeout: float) -> CommandResult:
        """The project's own command (``npm test``), through ``/bin/sh -c``."""
        return self.run(["/bin/sh", "-c", command], cwd, timeout=timeout, env={"CI": "true"})

    def cancel(self) -> None:
        """End every running command (the task timed out); later ones are refused."""
        self._cancelled.set()
        with self._lock:
            groups = list(self._groups)
        for g in groups:
            kill_process_group(g)

    def close(self) -> None:
        self.cancel()

    # -- the scratch copy ------------------------------------------------------------------
    def _writable(self) -> None:
        if self.readonly:
            raise TargetUnavailable("the npmproject target is read-only in check mode")

    def repo_root(self, project: Path) -> Path | None:
        """The root of the git work tree holding ``project``, or None."""
        if shutil.which("git") is None:
            return None
        r = self.git(project, "rev-parse", "--show-toplevel")
        return Path(r.tail.strip().splitlines()[-1]) if r.ok and r.tail.strip() else None

    def scratch(self, project: Path, branch: str, files: tuple[str, ...]) -> Scratch:
        """A scratch copy of ``project``: a worktree of HEAD on the new branch ``branch``
        (a free name: ``-2``, ``-3`` appended when taken) when it is in a git repository,
        else a copy of ``files`` in a temp dir. ``files`` are copied from the working tree
        over the worktree's, so the fix starts from what was audited."""
        self._writable()
        project = project.resolve()
        repo = self.repo_root(project)
        base = Path(tempfile.mkdtemp(prefix="rota-deps-fix-"))
        if repo is None:
            d = base / project.name
            d.mkdir()
            for name in files:
                if (project / name).is_file():
                    shutil.copy2(project / name, d / name)
            return Scratch(project, d, base)
        name = branch
        n = 1
        while self.git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}").ok:
            n += 1
            name = f"{branch}-{n}"
        tree = base / "worktree"
        r = self.git(repo, "worktree", "add", "-b", name, str(tree), "HEAD")
        if not r.ok:
            shutil.rmtree(base, ignore_errors=True)
            raise CommandFailed("git worktree add", r)
        s = Scratch(project, tree / project.relative_to(repo), tree, repo, name)
        s.dir.mkdir(parents=True, exist_ok=True)
        for f in files:
            if (project / f).is_file():
                shutil.copy2(project / f, s.dir / f)
        # Staged: the diff and the commit then show the fix, not the copy.
        self.git(tree, "add", "--", *[s.rel(f) for f in files if (s.dir / f).is_file()])
        return s

    def keep_branch(self, s: Scratch, message: str, files: tuple[str, ...]) -> str:
        """Commit ``files`` on the scratch branch and remove the worktree (the branch
        stays); returns the commit id."""
        self._writable()
        assert s.repo is not None
        self.check(
            "git add", self._gitv(s.worktree, "add", "--", *[s.rel(f) for f in files]), s.worktree
        )
        env = dict(_GIT_ENV)
        if not self.git(s.worktree, "config", "user.email").ok:
            env |= {
                "GIT_AUTHOR_NAME": "rota",
                "GIT_AUTHOR_EMAIL": "rota@localhost",
                "GIT_COMMITTER_NAME": "rota",
                "GIT_COMMITTER_EMAIL": "rota@localhost",
            }
        # --no-verify: the project's hooks are not what this commit is tested by; its tests are.
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
            fh.write(message)
        try:
            argv = self._gitv(s.worktree, "commit", "--no-verify", "-q", "-F", fh.name)
            self.check("git commit", argv, s.worktree, env=env)
        finally:
            os.unlink(fh.name)
        commit = self.git(s.worktree, "rev-parse", "HEAD").tail.strip()
        self._remove_worktree(s)
        return commit

    def diff(self, s: Scratch, files: tuple[str, ...]) -> str:
        """The change to ``files`` as a unified diff: ``git diff`` in a worktree, difflib
        against the project's files otherwise."""
        if s.git:
            paths = [s.rel(f) for f in files]
            r = self.git(s.worktree, "diff", "--no-color", "--no-ext-diff", "--", *paths)
            if not r.ok:
                raise CommandFailed("git diff", r)
            return r.output
        out: list[str] = []
        for f in files:
            old = (s.project / f).read_text(encoding="utf-8").splitlines(keepends=True)
            new = (s.dir / f).read_text(encoding="utf-8").splitlines(keepends=True)
            out += difflib.unified_diff(old, new, f"a/{f}", f"b/{f}")
        return "".join(out)

    def discard(self, s: Scratch) -> None:
        """Remove the scratch copy: the worktree (``--force``) and its branch, or the temp dir."""
        if s.git:
            self._remove_worktree(s)
            assert s.repo is not None and s.branch is not None
            self.git(s.repo, "branch", "-D", s.branch)
        shutil.rmtree(s.worktree.parent if s.git else s.worktree, ignore_errors=True)

    def _remove_worktree(self, s: Scratch) -> None:
        assert s.repo is not None
        self.git(s.repo, "worktree", "remove", "--force", str(s.worktree))
        shutil.rmtree(s.worktree.parent, ignore_errors=True)
        self.git(s.repo, "worktree", "prune")

    def _gitv(self, cwd: Path, *args: str) -> list[str]:
        return ["git", "-C", str(cwd), "-c", "core.quotepath=off", *args]
