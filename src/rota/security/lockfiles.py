"""Lockfile readers: what a project installs, pinned, with how each package got there.

One pure function per format, text in, :class:`Lock` out: npm ``package-lock.json``
(lockfileVersion 2 and 3, the ``packages`` map), pip ``requirements*.txt`` (``==`` pins;
pip-compile's ``# via`` notes give direct/transitive), ``poetry.lock``, ``uv.lock`` and
``pylock.toml`` (PEP 751). A line or entry that names no exact version is an
:class:`Unpinned` entry, reported as not audited rather than guessed. :func:`read_project`
finds and reads the lockfiles in a directory.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rota.errors import RotaError

NPM = "npm"
PYPI = "PyPI"
# The most paths from the root kept per package: enough to act on, not a dump of the graph.
MAX_PATHS = 5

# The files read, in the order looked for; requirements*.txt files are globbed.
LOCKFILES = ("package-lock.json", "poetry.lock", "uv.lock", "pylock.toml")
REQUIREMENTS_GLOB = "requirements*.txt"


class LockfileError(RotaError):
    """A lockfile that cannot be read or is not in a format rota knows."""


@dataclass(frozen=True)
class Dependency:
    """One installed package. ``paths`` are the chains of package names from the project
    root to it (shortest first); a direct dependency's includes ``(name,)``."""

    ecosystem: str  # "npm" | "PyPI"
    name: str  # PyPI names normalized per PEP 503
    version: str
    direct: bool = True
    dev: bool = False
    optional: bool = False
    paths: tuple[tuple[str, ...], ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.ecosystem, self.name, self.version)

    @property
    def production(self) -> bool:
        return not self.dev


@dataclass(frozen=True)
class Unpinned:
    """An entry that names no exact version, so no advisory can be matched to it."""

    name: str
    reason: str
    line: int | None = None


@dataclass(frozen=True)
class Lock:
    """One lockfile's contents."""

    format: str  # "package-lock.json v3", "requirements.txt", "poetry.lock", ...
    dependencies: tuple[Dependency, ...]
    unpinned: tuple[Unpinned, ...] = ()
    path: Path | None = None
    includes: tuple[str, ...] = field(default=(), compare=False)  # requirements -r files


def normalize(name: str) -> str:
    """A PyPI project name per PEP 503 (``Jinja2`` and ``jinja_2`` are ``jinja2``, ``jinja-2``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- npm ----------------------------------------------------------------------------------


def read_package_lock(text: str) -> Lock:
    """``package-lock.json`` v2/v3: every ``node_modules/...`` entry of ``packages``."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LockfileError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise LockfileError("not a package-lock.json: the top level is not an object")
    version = data.get("lockfileVersion")
    packages = data.get("packages")
    if not isinstance(packages, dict):
        raise LockfileError(
            f"lockfileVersion {version} has no 'packages' map; regenerate it with npm >= 7 "
            "(npm install --package-lock-only)"
        )
    root = packages.get("", {})
    root_deps: dict[str, bool] = {}  # name -> dev
    for key, dev in (
        ("dependencies", False),
        ("optionalDependencies", False),
        ("peerDependencies", False),
        ("devDependencies", True),
    ):
        for name in root.get(key) or {}:
            root_deps.setdefault(name, dev)
    entries = {
        loc: e
        for loc, e in packages.items()
        if "node_modules/" in loc and isinstance(e, dict) and not e.get("link")
    }
    parents = _npm_graph(packages, entries, root_deps)
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for loc, entry in entries.items():
        ver = entry.get("version")
        if not isinstance(ver, str) or not ver:
            continue
        name = entry.get("name") or _npm_name(loc)
        top_level = loc.startswith("node_modules/") and loc.count("node_modules/") == 1
        item = merged.setdefault(
            (name, ver), {"direct": False, "dev": True, "optional": True, "locs": []}
        )
        item["direct"] |= top_level and _npm_name(loc) in root_deps
        item["dev"] &= bool(entry.get("dev") or entry.get("devOptional"))
        item["optional"] &= bool(entry.get("optional") or entry.get("devOptional"))
        item["locs"].append(loc)
    deps = []
    for (name, ver), item in sorted(merged.items()):
        paths: list[tuple[str, ...]] = []
        for loc in item["locs"]:
            paths.extend(_paths(loc, parents, _npm_name))
        deps.append(
            Dependency(
                NPM,
                name,
                ver,
                direct=item["direct"],
                dev=item["dev"],
                optional=item["optional"],
                paths=_shortest(paths),
            )
        )
    return Lock(f"package-lock.json v{version}", tuple(deps))


def _npm_name(loc: str) -> str:
    """``node_modules/a/node_modules/@s/b`` is ``@s/b``."""
    return loc.rsplit("node_modules/", 1)[-1]


def _npm_resolve(loc: str, name: str, entries: Mapping[str, object]) -> str | None:
    """Where Node finds ``name`` from the package at ``loc``: its own node_modules, then
    each enclosing one up to the root's."""
    base = loc
    while True:
        candidate = f"{base}/node_modules/{name}" if base else f"node_modules/{name}"
        if candidate in entries:
            return candidate
        if not base:
            return None
        cut = base.rfind("/node_modules/")
        base = base[:cut] if cut >= 0 else ""


def _npm_graph(
    packages: Mapping[str, Any], entries: Mapping[str, Any], root_deps: Mapping[str, bool]
) -> dict[str, list[str]]:
    """Each location's parents (locations that depend on it; "" is the root)."""
    parents: dict[str, list[str]] = {}
    for name in root_deps:
        found = _npm_resolve("", name, entries)
        if found:
            parents.setdefault(found, []).append("")
    for loc, entry in entries.items():
        names: set[str] = set()
        for key in ("dependencies", "optionalDependencies", "peerDependencies"):
            names.update(entry.get(key) or {})
        for name in sorted(names):
            found = _npm_resolve(loc, name, entries)
            if found and found != loc:
                parents.setdefault(found, []).append(loc)
    return parents


# --- the graph walk shared by the formats ----------------------------------------------------


def _paths(
    node: str, parents: Mapping[str, list[str]], label: Any = lambda n: n
) -> list[tuple[str, ...]]:
    """Up to MAX_PATHS shortest chains root -> ``node``, as labels; the root is ""."""
    # Breadth-first from the node up towards the root, so the first chains found are shortest.
    queue: deque[tuple[str, tuple[str, ...]]] = deque([(node, (node,))])
    out: list[tuple[str, ...]] = []
    seen_at: dict[str, int] = {node: 0}
    while queue and len(out) < MAX_PATHS:
        current, chain = queue.popleft()
        for parent in parents.get(current, []):
            if parent == "":
                out.append(tuple(label(n) for n in reversed(chain)))
                continue
            if parent in chain or seen_at.get(parent, len(chain)) < len(chain):
                continue
            seen_at[parent] = len(chain)
            queue.append((parent, (*chain, parent)))
    return out


def _shortest(paths: Iterable[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    unique = sorted(set(paths), key=lambda p: (len(p), p))
    return tuple(unique[:MAX_PATHS])


def _python_deps(
    versions: Mapping[str, str],
    edges: Mapping[str, Iterable[str]],
    prod_roots: Iterable[str],
    dev_roots: Iterable[str],
) -> tuple[Dependency, ...]:
    """Dependencies of a Python lock from its graph: reachable from the production roots
    is production, else dev; a package no root reaches counts as a direct production one
    (rota does not know why it is there, so it does not play it down)."""
    prod, dev = set(prod_roots) & set(versions), set(dev_roots) & set(versions)
    parents: dict[str, list[str]] = {}
    for root in prod | dev:
        parents.setdefault(root, []).append("")
    for name, children in edges.items():
        for child in children:
            if child in versions and child != name:
                parents.setdefault(child, []).append(name)
    reach_prod = _reach(prod, edges)
    reach_any = _reach(prod | dev, edges)
    out = []
    for name in sorted(versions):
        orphan = name not in reach_any
        paths = _shortest(_paths(name, parents)) if not orphan else ((name,),)
        out.append(
            Dependency(
                PYPI,
                name,
                versions[name],
                direct=orphan or name in prod or name in dev,
                dev=not orphan and name not in reach_prod,
                paths=paths,
            )
        )
    return tuple(out)


def _reach(roots: Iterable[str], edges: Mapping[str, Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(edges.get(n, ()))
    return seen


# --- requirements.txt ------------------------------------------------------------------------


def read_requirements(text: str, *, dev: bool = False) -> Lock:
    """pip requirements: ``name==version`` lines are pinned; anything else that names a
    package (``>=``, no specifier, a URL, ``-e``) is :class:`Unpinned`. pip-compile's
    ``# via`` notes, when present, say which packages are transitive and through what."""
    from packaging.requirements import InvalidRequirement, Requirement

    versions: dict[str, str] = {}
    via: dict[str, list[str]] = {}
    unpinned: list[Unpinned] = []
    includes: list[str] = []
    last: str | None = None
    in_via = False
    for number, line in _logical_lines(text):
        stripped = line.strip()
        if stripped.startswith("#"):
            note = stripped.lstrip("#").strip()
            if last is not None and (note.startswith("via") or in_via):
                in_via = True
                who = note[3:].strip() if note.startswith("via") else note
                if who:
                    via.setdefault(last, []).append(who)
            continue
        in_via = False
        stripped = re.sub(r"\s+#.*$", "", stripped)
        if not stripped:
            continue
        if stripped.startswith(("-r ", "--requirement ", "-r\t")) or re.match(
            r"^(-r|--requirement=)\S", stripped
        ):
            includes.append(re.sub(r"^(-r|--requirement)[=\s]*", "", stripped))
            last = None
            continue
        if stripped.startswith(("-e ", "--editable")):
            unpinned.append(Unpinned(stripped, "an editable install names no version", number))
            last = None
            continue
        if stripped.startswith("-"):
            last = None  # --index-url, -c constraints, --hash on its own: not packages
            continue
        requirement = re.sub(r"\s+--hash[= ]\S+", "", stripped)
        try:
            req = Requirement(requirement)
        except InvalidRequirement as exc:
            unpinned.append(Unpinned(stripped, f"not a requirement pip reads: {exc}", number))
            last = None
            continue
        name = normalize(req.name)
        specs = list(req.specifier)
        pinned = (
            req.url is None
            and len(specs) == 1
            and specs[0].operator in ("==", "===")
            and "*" not in specs[0].version
        )
        if not pinned:
            why = f"installed from {req.url}" if req.url else f"not pinned with ==: {stripped!r}"
            unpinned.append(Unpinned(name, why, number))
            last = None
            continue
        versions[name] = specs[0].version
        last = name
    if via:
        edges: dict[str, list[str]] = {}
        roots: list[str] = []
        for name in versions:
            notes = via.get(name, [])
            if not notes or any(n.startswith("-r") or n.startswith("-c") for n in notes):
                roots.append(name)
            for n in notes:
                edges.setdefault(normalize(n.split()[0]), []).append(name)
        deps = _python_deps(versions, edges, [] if dev else roots, roots if dev else [])
    else:
        deps = tuple(
            Dependency(PYPI, n, v, direct=True, dev=dev, paths=((n,),))
            for n, v in sorted(versions.items())
        )
    return Lock("requirements.txt", deps, tuple(unpinned), includes=tuple(includes))


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Lines with backslash continuations joined, each with its first line number."""
    buffer, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not buffer:
            start = number
        if line.rstrip().endswith("\\") and not line.lstrip().startswith("#"):
            buffer += line.rstrip()[:-1] + " "
            continue
        yield start, buffer + line
        buffer = ""
    if buffer:
        yield start, buffer


# --- TOML locks -----------------------------------------------------------------------------


def _toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockfileError(f"not valid TOML: {exc}") from None


def _names(items: Any) -> list[str]:
    """Package names from a list of ``{name = ...}`` tables or a ``{name: spec}`` table."""
    if isinstance(items, dict):
        return [normalize(n) for n in items]
    return [normalize(i["name"]) for i in items or [] if isinstance(i, dict) and "name" in i]


def _project_roots(pyproject: str | None) -> tuple[list[str], list[str]] | None:
    """Production and dev direct dependencies from a pyproject.toml, if it says."""
    if not pyproject:
        return None
    from packaging.requirements import InvalidRequirement, Requirement

    data = _toml(pyproject)

    def names(specs: Iterable[Any]) -> list[str]:
        out = []
        for s in specs:
            try:
                out.append(normalize(Requirement(s).name))
            except (InvalidRequirement, TypeError):
                pass
        return out

    project = data.get("project", {})
    prod = names(project.get("dependencies", []))
    for extra in (project.get("optional-dependencies") or {}).values():
        prod += names(extra)
    dev: list[str] = []
    for group in (data.get("dependency-groups") or {}).values():
        dev += names(g for g in group if isinstance(g, str))
    poetry = data.get("tool", {}).get("poetry", {})
    prod += [normalize(n) for n in poetry.get("dependencies", {}) if n.lower() != "python"]
    dev += [normalize(n) for n in poetry.get("dev-dependencies", {})]
    for group in (poetry.get("group") or {}).values():
        dev += [normalize(n) for n in group.get("dependencies", {})]
    return (prod, dev) if prod or dev else None


def _unreferenced(versions: Mapping[str, str], edges: Mapping[str, Iterable[str]]) -> list[str]:
    referenced = {c for children in edges.values() for c in children}
    return [n for n in versions if n not in referenced]


def read_poetry_lock(text: str, pyproject: str | None = None) -> Lock:
    """``poetry.lock``: ``[[package]]`` name/version and ``[package.dependencies]``. Which
    are direct and dev comes from the pyproject.toml beside it (or poetry < 1.2's
    ``category``); without either, packages nothing depends on are taken as direct."""
    data = _toml(text)
    versions: dict[str, str] = {}
    edges: dict[str, list[str]] = {}
    category: dict[str, str] = {}
    for pkg in data.get("package", []):
        name = normalize(pkg["name"])
        versions[name] = str(pkg["version"])
        edges[name] = _names(pkg.get("dependencies") or {})
        if "category" in pkg:
            category[name] = pkg["category"]
    roots = _project_roots(pyproject)
    if roots is None and category:
        prod = [n for n in _unreferenced(versions, edges) if category.get(n) != "dev"]
        dev = [n for n in _unreferenced(versions, edges) if category.get(n) == "dev"]
        roots = (prod, dev)
    prod, dev = roots if roots is not None else (_unreferenced(versions, edges), [])
    return Lock("poetry.lock", _python_deps(versions, edges, prod, dev))


def read_uv_lock(text: str) -> Lock:
    """``uv.lock``: the project's own entry (an editable or virtual source) gives the
    roots: ``dependencies`` and ``optional-dependencies`` are production,
    ``dev-dependencies`` (its dependency groups) dev. Workspace members are not audited."""
    data = _toml(text)
    versions: dict[str, str] = {}
    edges: dict[str, list[str]] = {}
    prod: list[str] = []
    dev: list[str] = []
    unpinned: list[Unpinned] = []
    for pkg in data.get("package", []):
        name = normalize(pkg["name"])
        source = pkg.get("source", {})
        children = _names(pkg.get("dependencies"))
        for extra in (pkg.get("optional-dependencies") or {}).values():
            children += _names(extra)
        if any(k in source for k in ("editable", "virtual")):
            prod += children
            for group in (pkg.get("dev-dependencies") or {}).values():
                dev += _names(group)
            continue
        if "version" not in pkg:
            unpinned.append(Unpinned(name, f"no version in uv.lock (source {source})"))
            continue
        versions[name] = str(pkg["version"])
        edges[name] = children
    if not prod and not dev:
        prod = _unreferenced(versions, edges)
    return Lock("uv.lock", _python_deps(versions, edges, prod, dev), tuple(unpinned))


_GROUP_IN_MARKER = re.compile(r"""['"]([^'"]+)['"]\s+in\s+dependency_groups""")


def read_pylock(text: str) -> Lock:
    """``pylock.toml`` (PEP 751): ``[[packages]]`` with name and version. A package whose
    marker selects it only for dependency groups outside ``default-groups`` is dev; a
    package without a version (a VCS, directory or archive source) is not audited."""
    data = _toml(text)
    if "lock-version" not in data:
        raise LockfileError("not a PEP 751 lock: no lock-version")
    default_groups = set(data.get("default-groups", []))
    versions: dict[str, str] = {}
    edges: dict[str, list[str]] = {}
    dev_only: set[str] = set()
    unpinned: list[Unpinned] = []
    for pkg in data.get("packages", []):
        name = normalize(pkg["name"])
        if "version" not in pkg:
            kind = next((k for k in ("vcs", "directory", "archive") if k in pkg), "unknown")
            unpinned.append(Unpinned(name, f"no version in pylock.toml ({kind} source)"))
            continue
        versions[name] = str(pkg["version"])
        edges[name] = _names(pkg.get("dependencies"))
        groups = set(_GROUP_IN_MARKER.findall(pkg.get("marker", "")))
        if groups and not groups & default_groups:
            dev_only.add(name)
    top = _unreferenced(versions, edges)
    prod = [n for n in top if n not in dev_only]
    dev = [n for n in top if n in dev_only]
    return Lock("pylock.toml", _python_deps(versions, edges, prod, dev), tuple(unpinned))


# --- files ----------------------------------------------------------------------------------


def read_lockfile(path: Path) -> Lock:
    """Read one lockfile, picking the reader by its name (``pylock.*.toml`` too)."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LockfileError(f"cannot read {path}: {exc}") from None
    try:
        if name == "package-lock.json":
            lock = read_package_lock(text)
        elif name == "poetry.lock":
            pyproject = path.with_name("pyproject.toml")
            lock = read_poetry_lock(text, pyproject.read_text() if pyproject.is_file() else None)
        elif name == "uv.lock":
            lock = read_uv_lock(text)
        elif name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml")):
            lock = read_pylock(text)
        elif name.endswith(".txt"):
            lock = _read_requirements_file(path, text, set())
        else:
            raise LockfileError(f"{path}: not a lockfile format rota reads")
    except (KeyError, TypeError, AttributeError) as exc:
        # A lock of the right syntax but the wrong shape: say where, not a traceback.
        raise LockfileError(f"{path}: unexpected structure ({type(exc).__name__}: {exc})") from None
    except LockfileError as exc:
        if str(path) in str(exc):
            raise
        raise LockfileError(f"{path}: {exc}") from None
    return Lock(lock.format, lock.dependencies, lock.unpinned, path)


def _is_dev_requirements(name: str) -> bool:
    return bool(re.search(r"(^|[-_.])(dev|test|tests|lint|docs)([-_.]|$)", name))


def _read_requirements_file(path: Path, text: str, seen: set[Path]) -> Lock:
    seen.add(path.resolve())
    lock = read_requirements(text, dev=_is_dev_requirements(path.stem))
    deps = {d.key: d for d in lock.dependencies}
    unpinned = list(lock.unpinned)
    for include in lock.includes:
        child = (path.parent / include).resolve()
        if child in seen:
            continue
        try:
            child_text = child.read_text(encoding="utf-8")
        except OSError as exc:
            unpinned.append(Unpinned(include, f"-r {include}: cannot read it ({exc.strerror})"))
            continue
        sub = _read_requirements_file(child, child_text, seen)
        for d in sub.dependencies:
            deps.setdefault(d.key, d)
        unpinned.extend(sub.unpinned)
    return Lock(lock.format, tuple(deps.values()), tuple(unpinned))


def find_lockfiles(directory: Path) -> list[Path]:
    """The lockfiles in ``directory`` (not below it): the ones in LOCKFILES, then
    ``pylock.*.toml`` and ``requirements*.txt``. A project with package-lock.json and
    requirements.txt (a Node app with Python tooling) gives both."""
    found = [directory / n for n in LOCKFILES if (directory / n).is_file()]
    found += sorted(p for p in directory.glob("pylock.*.toml") if p.is_file())
    found += sorted(p for p in directory.glob(REQUIREMENTS_GLOB) if p.is_file())
    return found
