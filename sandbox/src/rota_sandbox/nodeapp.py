"""The platform service's Node.js app: finding ``node`` and ``npm``, installing the app once.

The app ships in this package as source (``rota_sandbox/node``: ``package.json``, the
committed ``package-lock.json``, ``server.js`` and ``lib/``), never with ``node_modules``.
:func:`install` copies it into rota's cache, ``~/.cache/rota/sandbox-node/<key>/``
(``$XDG_CACHE_HOME`` honoured), and runs ``npm ci`` there from the lockfile. ``<key>`` is
the start of a SHA-256 over the app's files, lockfile included: a changed lockfile or
server gets a directory of its own, an unchanged one is reused without running npm.

A directory counts as installed only with its marker (written last, holding the key). It is
built under a temporary name and renamed into place under a file lock, so two sandboxes
starting at once install once and a killed install leaves nothing half-done in use.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rota.errors import SandboxError

__all__ = [
    "APP_SOURCE",
    "INSTALL_HINT",
    "MIN_NODE_MAJOR",
    "VULNERABLE",
    "NodeTools",
    "app_files",
    "app_key",
    "cache_root",
    "find_node",
    "install",
]

#: The app's source, shipped as package data.
APP_SOURCE = Path(__file__).resolve().parent / "node"
#: How to get Node.js, for the one line a missing ``node`` or ``npm`` is reported in.
INSTALL_HINT = "apt-get install nodejs npm, or Node.js >= 18 from nodejs.org"
MIN_NODE_MAJOR = 18
MARKER = ".rota-installed"
NPM_CI = ["ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline"]
NPM_TIMEOUT_S = 600

#: Packages the lockfile holds on purpose at versions with published advisories, so that
#: ``npm audit`` and rota's security.deps have something real to find in a running service:
#: name -> (locked version, GHSA ids). express is a direct dependency; the others come with
#: it (express 4.17.1 pins each of them exactly). Listed, with CVEs, in node/README.md.
VULNERABLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "express": ("4.17.1", ("GHSA-rv95-896h-c2vc", "GHSA-qw6h-vgh9-j6wx")),
    "body-parser": ("1.19.0", ("GHSA-qwcr-r2fm-qrc7",)),
    "path-to-regexp": ("0.1.7", ("GHSA-9wv6-86v2-598j", "GHSA-rhx6-c78j-4q9w")),
    "qs": ("6.7.0", ("GHSA-hrpp-h998-j3pp",)),
    "send": ("0.17.1", ("GHSA-m6fv-jmcg-4jfg",)),
    "serve-static": ("1.14.1", ("GHSA-cm22-4g7w-348p",)),
    "cookie": ("0.4.0", ("GHSA-pxg6-pf52-xh8x",)),
}


@dataclass(frozen=True)
class NodeTools:
    node: Path
    npm: Path
    version: str  # "v20.11.1"


def find_node() -> NodeTools:
    """``node`` and ``npm`` from PATH; raises SandboxError (one line, with the install hint)
    when either is missing or node is older than :data:`MIN_NODE_MAJOR`."""
    node = shutil.which("node")
    if node is None:
        raise SandboxError(f"Node.js not found (node); install it: {INSTALL_HINT}")
    npm = shutil.which("npm")
    if npm is None:
        raise SandboxError(f"npm not found (node is {node}); install it: {INSTALL_HINT}")
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(
            f"{node} --version failed ({exc}); install Node.js: {INSTALL_HINT}"
        ) from None
    match = re.match(r"v(\d+)\.", version)
    if not match or int(match.group(1)) < MIN_NODE_MAJOR:
        raise SandboxError(f"Node.js {version or '?'} at {node} is too old; {INSTALL_HINT}")
    return NodeTools(Path(node), Path(npm), version)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rota" / "sandbox-node"


def app_files(source: Path = APP_SOURCE) -> list[Path]:
    """The app's files, relative to ``source``, in a stable order (no node_modules)."""
    found = []
    for root, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d != "node_modules" and not d.startswith("."))
        found += [Path(root, f).relative_to(source) for f in files if not f.startswith(".")]
    return sorted(found)


def app_key(source: Path = APP_SOURCE) -> str:
    """16 hex digits of a SHA-256 over the app's files: the name of its cache directory."""
    h = hashlib.sha256()
    for rel in app_files(source):
        h.update(rel.as_posix().encode() + b"\0")
        h.update((source / rel).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def install(
    tools: NodeTools | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    source: Path = APP_SOURCE,
) -> Path:
    """The installed app's directory (``server.js`` and ``node_modules``), installing it
    with ``npm ci`` first unless the cache already holds it complete."""
    key = app_key(source)
    root = cache_root()
    final = root / key
    if _complete(final, key):
        return final
    tools = tools or find_node()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{key}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be installing the same key
        if _complete(final, key):
            return final
        if progress:
            progress("installing the platform's Node.js modules (npm ci, first run only)")
        build = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
        try:
            for rel in app_files(source):
                (build / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / rel, build / rel)
            _npm_ci(tools, build)
            (build / MARKER).write_text(key + "\n", encoding="utf-8")
            if final.exists():  # a directory left incomplete by an older, killed install
                shutil.rmtree(final)
            build.rename(final)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
    return final


def _complete(directory: Path, key: str) -> bool:
    try:
        marker = (directory / MARKER).read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return marker == key and (directory / "node_modules").is_dir()


def _npm_ci(tools: NodeTools, directory: Path) -> None:
    env = {**os.environ, "npm_config_update_notifier": "false"}
    # npm is a script run by node: the node found next to it must win over any other one.
    env["PATH"] = os.pathsep.join([str(tools.node.parent), env.get("PATH", "")])
    try:
        done = subprocess.run(
            [str(tools.npm), *NPM_CI],
            cwd=directory,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise SandboxError(
            f"npm ci did not finish in {NPM_TIMEOUT_S}s (is the registry reachable?)"
        ) from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        detail = " | ".join(lines[-3:]) or f"exit code {done.returncode}"
        raise SandboxError(f"npm ci failed for the platform's Node.js app: {detail}")
