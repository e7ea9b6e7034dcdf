"""Security: the runbook's "Dependency Audit" (``npm audit``), without its silent failures.

Every package in every configured project's lockfiles ends in exactly one of three
outcomes: *vulnerable* (a finding per advisory and package), *clean* (the source answered
for it and named nothing), or *not audited* (with the reason: the source was unreachable
or answered badly, the lockfile could not be read, the entry is not pinned). Only a
lockfile whose every package was answered for is reported clean.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rota.model import Finding, Metric, Severity
from rota.security.advisories import Advisories, Advisory, AuditResult
from rota.security.lockfiles import (
    NPM,
    Dependency,
    Lock,
    LockfileError,
    find_lockfiles,
    read_lockfile,
)
from rota.security.semver import is_new_major
from rota.task import Context, Item, task

CLEAN = "security.deps.clean"
VULNERABLE = "security.deps.vulnerable"
UNAUDITED = "security.deps.unaudited"
OUTDATED_MAJOR = "security.deps.outdated_major"
# Names listed in one unaudited finding's message before "and N more".
LIST_NAMES = 8


@task(
    id="security.dependencies",
    title="Dependency audit",
    section="Security maintenance",
    frequency="monthly",
    priority="critical",
    needs=("advisories",),
    purpose="Find published vulnerabilities in what the platform installs, and say plainly "
    "what could not be checked: an audit that fails quietly reads as a clean bill of health.",
    prerequisites=[
        "[security] projects: the directories holding package-lock.json, requirements*.txt, "
        "poetry.lock, uv.lock or pylock.toml",
        "Network access to the advisory source (OSV's API by default, or npm's registry), "
        'or an OSV export on disk with source = "osv-export"',
    ],
    procedure=[
        "Read each project's lockfiles: every pinned package with its version, whether it is "
        "a direct or transitive and a production or dev dependency, and its paths from the root.",
        "Ask the advisory source about every package: OSV querybatch then each record, "
        "npm's bulk advisory endpoint, or the OSV export matched locally.",
        "Report each advisory per package with its aliases, severity and CVSS score, the "
        "affected range, the fixed version and the dependency paths; a fix that is a new "
        "major version is noted.",
        "Report every package the source did not answer for, every unreadable lockfile and "
        "every unpinned requirement as not audited, with the reason; never as clean.",
        "Planned, not yet built: with --apply, upgrade to the fixed versions (npm audit fix) "
        "on a branch and run the tests. For now, apply the remedies by hand.",
    ],
    expected_outcome="Every package audited and no advisory against a production dependency.",
    rollback="Nothing to undo: the audit only reads lockfiles and queries the advisory source.",
    time_estimate="10s",
    manual_time="30 minutes",
    timeout="5m",
    codes=(CLEAN, VULNERABLE, UNAUDITED, OUTDATED_MAJOR),
)
def dependencies(ctx: Context) -> Iterator[Item]:
    source = ctx.target("advisories")
    for project in ctx.config.security.projects:
        yield from audit_project(source, project)


def audit_project(source: Advisories, project: Path) -> Iterator[Item]:
    """The findings and metrics for one project directory."""
    if not project.is_dir():
        yield _unaudited(str(project), f"{project} is not a directory", {"project": str(project)})
        return
    paths = find_lockfiles(project)
    if not paths:
        yield _unaudited(
            str(project),
            f"no lockfile in {project} (package-lock.json, requirements*.txt, poetry.lock, "
            "uv.lock, pylock.toml)",
            {"project": str(project)},
            "Commit a lockfile (npm install --package-lock-only, pip-compile, poetry lock, uv lock).",
        )
        return
    for path in paths:
        try:
            lock = read_lockfile(path)
        except LockfileError as exc:
            yield _unaudited(str(path), str(exc), {"file": str(path)})
            continue
        yield from audit_lock(source, lock)


def audit_lock(source: Advisories, lock: Lock) -> Iterator[Item]:
    file = str(lock.path)
    labels = {"file": file}
    for u in lock.unpinned:
        yield _unaudited(
            f"{file}: {u.name}",
            f"{u.name} in {file} is not audited: {u.reason}",
            {"file": file, "line": u.line, "entry": u.name},
            "Pin an exact version (pip-compile or uv pip compile writes a fully pinned file).",
        )
    deps = {d.key: d for d in lock.dependencies}
    result = source.audit(list(deps))
    vulnerable = 0
    for key, advisories in sorted(result.found.items()):
        for adv in advisories:
            vulnerable += 1
            yield _vulnerable(deps[key], adv, file, result)
            if adv.fixed and _new_major(deps[key], adv.fixed):
                yield _outdated_major(deps[key], adv, file)
    yield from _unaudited_by_reason(result, deps, file, lock)
    audited = len(result.audited(deps))
    yield Metric("security.deps.packages", len(deps), "count", labels)
    yield Metric("security.deps.audited", audited, "count", labels)
    yield Metric("security.deps.advisories", vulnerable, "count", labels)
    if vulnerable == 0 and not result.unaudited and not lock.unpinned:
        yield Finding(
            CLEAN,
            Severity.OK,
            f"{audited} packages in {file} audited against {result.source}: no known advisories",
            file,
            {"file": file, "format": lock.format, "audited": audited, "source": result.source},
        )


def _vulnerable(dep: Dependency, adv: Advisory, file: str, result: AuditResult) -> Finding:
    serious = adv.severity in ("high", "critical", None)  # unrated is not proof of harmless
    severity = Severity.CRITICAL if dep.production and serious else Severity.WARNING
    rated = adv.severity or "unrated"
    if adv.cvss_score is not None:
        rated += f" {adv.cvss_score:g}"
    ids = adv.id + (f" ({', '.join(adv.aliases)})" if adv.aliases else "")
    role = ("production" if dep.production else "dev") + (
        ", direct" if dep.direct else ", transitive"
    )
    fix = f"fixed in {adv.fixed}" if adv.fixed else "no fixed version"
    evidence: dict[str, Any] = {
        "file": file,
        "ecosystem": dep.ecosystem,
        "package": dep.name,
        "version": dep.version,
        "id": adv.id,
        "aliases": list(adv.aliases),
        "severity": adv.severity,
        "cvss_score": adv.cvss_score,
        "cvss_vector": adv.cvss_vector,
        "affected": adv.affected,
        "fixed": adv.fixed,
        "production": dep.production,
        "direct": dep.direct,
        "paths": [" > ".join(p) for p in dep.paths],
        "url": adv.url,
        "cwe": list(adv.cwe),
        "source": result.source,
    }
    return Finding(
        VULNERABLE,
        severity,
        f"{dep.name} {dep.version}: {ids} {rated}: {adv.summary} ({role}; {fix})",
        f"{dep.name}@{dep.version}",
        evidence,
        _remedy(dep, adv),
    )


def _remedy(dep: Dependency, adv: Advisory) -> str:
    if not adv.fixed:
        return (
            f"No fixed release of {dep.name} yet: read {adv.url} for a workaround, or replace it."
        )
    if dep.ecosystem == NPM:
        if dep.direct:
            return (
                f"Upgrade {dep.name} to {adv.fixed} or later (npm install {dep.name}@^{adv.fixed})."
            )
        via = " > ".join(dep.paths[0][:-1]) if dep.paths else "its parent"
        return (
            f"Upgrade {via} to a release that requires {dep.name} >= {adv.fixed}, or add "
            f'"overrides": {{"{dep.name}": "^{adv.fixed}"}} to package.json; then npm install.'
        )
    return (
        f"Require {dep.name}>={adv.fixed} and re-lock "
        f"(pip-compile --upgrade-package {dep.name}, poetry update {dep.name} or "
        f"uv lock --upgrade-package {dep.name})."
    )


def _new_major(dep: Dependency, fixed: str) -> bool:
    if dep.ecosystem == NPM:
        return is_new_major(dep.version, fixed)
    from packaging.version import InvalidVersion, Version

    try:
        return Version(fixed).release[0] > Version(dep.version).release[0]
    except InvalidVersion:
        return False


def _outdated_major(dep: Dependency, adv: Advisory, file: str) -> Finding:
    return Finding(
        OUTDATED_MAJOR,
        Severity.OK,
        f"the fix for {dep.name} {dep.version} ({adv.id}) is {adv.fixed}, a new major version: "
        "expect breaking changes",
        f"{dep.name}@{dep.version}",
        {"file": file, "package": dep.name, "version": dep.version, "fixed": adv.fixed},
        "Read the changelog and run the tests before taking the upgrade.",
    )


def _unaudited_by_reason(
    result: AuditResult, deps: dict[tuple[str, str, str], Dependency], file: str, lock: Lock
) -> Iterator[Finding]:
    """One finding per lockfile and reason, naming the packages: a source that is down
    makes one line, not one per package."""
    by_reason: dict[str, list[Dependency]] = {}
    for key, reason in result.unaudited.items():
        by_reason.setdefault(reason, []).append(deps[key])
    for reason, group in sorted(by_reason.items()):
        names = _names(group)
        yield _unaudited(
            file,
            f"{len(group)} of {len(deps)} packages in {file} not audited: {reason} ({names})",
            {
                "file": file,
                "format": lock.format,
                "source": result.source,
                "reason": reason,
                "packages": [f"{d.name}@{d.version}" for d in group],
            },
        )


def _names(group: Sequence[Dependency]) -> str:
    shown = ", ".join(f"{d.name}@{d.version}" for d in group[:LIST_NAMES])
    more = len(group) - LIST_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def _unaudited(
    subject: str,
    message: str,
    evidence: dict[str, Any],
    remedy: str = "Make the advisory source reachable (or use an OSV export offline) and run again; until then these packages are unchecked.",
) -> Finding:
    if not message.startswith(subject) and "not audited" not in message:
        message = f"not audited: {message}"
    return Finding(UNAUDITED, Severity.UNKNOWN, message, subject, evidence, remedy)


TASKS = [dependencies]
