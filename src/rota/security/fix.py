"""The npm fix for an audit: the smallest upgrades that leave no advisory, and the re-check.

Pure functions, no subprocess: :func:`plan_fixes` turns an audit of a ``package-lock.json``
into upgrades (a direct dependency's ``package.json`` range moved to the smallest fixed
version, the operator kept as written; a transitive one pinned with an npm ``overrides``
entry), :func:`apply_fixes` writes them into ``package.json``'s text, and :func:`remaining`
re-checks a re-resolved lockfile against the same advisories, offline, with the audit's
own range matching.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from rota.security import semver
from rota.security.advisories import Advisory, AuditResult
from rota.security.lockfiles import NPM, Dependency, Lock

# package.json sections a direct dependency's range is moved in, in npm's own order.
SECTIONS = ("dependencies", "devDependencies", "optionalDependencies")
# A range written as one version with an operator: the operator is kept, the version moved.
_SIMPLE = re.compile(r"^(\^|~|>=|=|v)?\s*\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")


@dataclass(frozen=True)
class Upgrade:
    """One package moved to ``to``: through its ``package.json`` range (``section`` set)
    or an ``overrides`` entry (``section`` None)."""

    name: str
    current: tuple[str, ...]  # the vulnerable installed versions
    to: str  # the smallest version every advisory against it is fixed in
    before: str | None  # the range as written (None: no override before)
    after: str
    section: str | None
    new_major: bool
    advisories: tuple[str, ...]

    @property
    def kind(self) -> str:
        return "direct" if self.section else "override"

    def describe(self) -> str:
        what = (
            f"{self.section}.{self.name}: {self.before} -> {self.after}"
            if self.section
            else f'overrides."{self.name}": {self.before or "(none)"} -> {self.after}'
        )
        return what + (" (a new major version)" if self.new_major else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": self.name,
            "from": list(self.current),
            "to": self.to,
            "kind": self.kind,
            "change": self.describe(),
            "new_major": self.new_major,
            "advisories": list(self.advisories),
        }


@dataclass(frozen=True)
class FixPlan:
    upgrades: tuple[Upgrade, ...]
    # (package, advisory) pairs with no fixed version: no upgrade can remove them.
    unfixable: tuple[tuple[str, Advisory], ...]
    # What the re-check must not find again: (package, advisory) pairs being fixed.
    targets: tuple[tuple[str, Advisory], ...]


def plan_fixes(lock: Lock, result: AuditResult, package_json: dict[str, Any]) -> FixPlan:
    """The upgrades that fix every advisory with a fixed version in ``result``."""
    deps = {d.key: d for d in lock.dependencies if d.ecosystem == NPM}
    fixes: dict[str, list[tuple[Dependency, Advisory]]] = {}
    unfixable: list[tuple[str, Advisory]] = []
    for key, advisories in sorted(result.found.items()):
        dep = deps.get(key)
        if dep is None:
            continue
        for adv in advisories:
            if adv.fixed:
                fixes.setdefault(dep.name, []).append((dep, adv))
            else:
                unfixable.append((dep.name, adv))
    declared = {
        name: section
        for section in reversed(SECTIONS)
        for name in (package_json.get(section) or {})
        if isinstance(package_json.get(section), dict)
    }
    overrides = package_json.get("overrides")
    overrides = overrides if isinstance(overrides, dict) else {}
    upgrades = []
    targets: list[tuple[str, Advisory]] = []
    for name, pairs in sorted(fixes.items()):
        to = max((adv.fixed for _dep, adv in pairs if adv.fixed), key=_order)
        current = tuple(sorted({dep.version for dep, _adv in pairs}, key=_order))
        direct = any(dep.direct for dep, _adv in pairs)
        section = declared.get(name) if direct else None
        if section is not None:
            written = str(package_json[section][name])
            before: str | None = written
            after = _keep_operator(written, to)
        else:
            old = overrides.get(name)
            before = old.get(".") if isinstance(old, dict) else old
            after = to
        upgrades.append(
            Upgrade(
                name,
                current,
                to,
                before,
                after,
                section,
                any(semver.is_new_major(v, to) for v in current),
                tuple(sorted({adv.id for _dep, adv in pairs})),
            )
        )
        targets += [(name, adv) for _dep, adv in pairs]
    return FixPlan(tuple(upgrades), tuple(unfixable), tuple(targets))


def _order(version: str) -> Any:
    try:
        return (1, semver.Version.parse(version))
    except semver.SemverError:
        return (0, version)


def _keep_operator(written: str, to: str) -> str:
    """``^4.17.1`` -> ``^4.20.0``, ``4.17.1`` -> ``4.20.0``; a range that is not one
    version (``4.x``, ``1 - 2``, ``a || b``) becomes ``^to``."""
    m = _SIMPLE.match(written.strip())
    if not m:
        return f"^{to}"
    op = m.group(1) or ""
    return f"{'' if op == 'v' else op}{to}"


def apply_fixes(text: str, plan: FixPlan) -> str:
    """``package.json``'s text with the plan's ranges and overrides, indented as it was."""
    data = json.loads(text)
    for up in plan.upgrades:
        if up.section is not None:
            data[up.section][up.name] = up.after
            continue
        overrides = data.setdefault("overrides", {})
        old = overrides.get(up.name)
        if isinstance(old, dict):  # an override of its own dependencies: "." is itself
            old["."] = up.after
        else:
            overrides[up.name] = up.after
    indent = re.search(r"^\{\s*\n([ \t]+)\S", text)
    out = json.dumps(data, indent=indent.group(1) if indent else 2, ensure_ascii=False)
    return out + ("\n" if text.endswith("\n") else "")


def remaining(lock: Lock, targets: tuple[tuple[str, Advisory], ...]) -> list[tuple[str, str, str]]:
    """(package, version, advisory id) for each advisory being fixed that still covers
    an installed version of its package in ``lock``."""
    left = []
    for dep in lock.dependencies:
        if dep.ecosystem != NPM:
            continue
        for name, adv in targets:
            if name == dep.name and _affected(dep.version, adv):
                left.append((dep.name, dep.version, adv.id))
    return sorted(set(left))


def _affected(version: str, adv: Advisory) -> bool:
    try:
        return semver.satisfies(version, adv.affected)
    except semver.SemverError:
        # A range the matcher cannot read: below the fixed version counts as affected.
        assert adv.fixed is not None
        return _order(version) < _order(adv.fixed)
