"""Security: the runbook's "Dependency Audit" (``npm audit``), without its silent failures.

Every package in every configured project's lockfiles ends in exactly one of three
outcomes: *vulnerable* (a finding per advisory and package), *clean* (the source answered
for it and named nothing), or *not audited* (with the reason: the source was unreachable
or answered badly, the lockfile could not be read, the entry is not pinned). Only a
lockfile whose every package was answered for is reported clean.

With ``--apply``, an npm project's advisories that have a fixed version are fixed as the
runbook says, "npm audit fix after testing": in a scratch worktree (or temp copy), the
smallest upgrades (:mod:`rota.security.fix`), a re-resolved lockfile re-checked against
the same advisories, the project's tests, and only then a branch or a patch. The deployed
tree is never written.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rota.errors import RotaError
from rota.model import Finding, Metric, Severity, Step, StepStatus
from rota.security.advisories import Advisories, Advisory, AuditResult
from rota.security.fix import FixPlan, apply_fixes, plan_fixes, remaining
from rota.security.lockfiles import (
    NPM,
    Dependency,
    Lock,
    LockfileError,
    find_lockfiles,
    read_lockfile,
    read_package_lock,
)
from rota.security.semver import is_new_major
from rota.targets.npmproject import CommandFailed
from rota.task import Context, Item, task

CLEAN = "security.deps.clean"
VULNERABLE = "security.deps.vulnerable"
UNAUDITED = "security.deps.unaudited"
OUTDATED_MAJOR = "security.deps.outdated_major"
# Names listed in one unaudited finding's message before "and N more".
LIST_NAMES = 8
# What a fix changes, and all it may change, in an npm project.
FIX_FILES = ("package.json", "package-lock.json")
NPM_FLAGS = ("--no-audit", "--no-fund", "--ignore-scripts")


@task(
    id="security.dependencies",
    title="Dependency audit",
    section="Security maintenance",
    frequency="monthly",
    priority="critical",
    needs=("advisories", "npmproject"),
    mutates=True,
    purpose="Find published vulnerabilities in what the platform installs, and say plainly "
    "what could not be checked: an audit that fails quietly reads as a clean bill of health.",
    prerequisites=[
        "[security] projects: the directories holding package-lock.json, requirements*.txt, "
        "poetry.lock, uv.lock or pylock.toml",
        "Network access to the advisory source (OSV's API by default, or npm's registry), "
        'or an OSV export on disk with source = "osv-export"',
        "For --apply: git, node and npm with the registry reachable, and [security] "
        "test_command (without it a fix is untested and not written).",
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
        "With --apply, for an npm project (package.json and package-lock.json): in a git "
        "worktree on a new branch (a temp copy outside git), set each vulnerable direct "
        "dependency's range to its smallest fixed version and pin each transitive one with "
        "an npm overrides entry; npm install --package-lock-only, npm ci, re-check the new "
        "lockfile against the same advisories, and run [security] test_command.",
        "Only when the tests pass, keep the fix as a commit on branch rota/deps-fix-<date> "
        '(fix_output = "branch") or as <project>/rota-deps-fix-<date>.patch ("patch"); '
        "otherwise remove the worktree and branch and report why, with the tests' output.",
    ],
    expected_outcome="Every package audited and no advisory against a production dependency.",
    rollback="The deployed tree is never written: delete the branch (git branch -D "
    "rota/deps-fix-<date>) or the patch file rota-deps-fix-<date>.patch.",
    time_estimate="10s",
    manual_time="30 minutes",
    timeout="30m",
    codes=(CLEAN, VULNERABLE, UNAUDITED, OUTDATED_MAJOR),
)
def dependencies(ctx: Context) -> Iterator[Item]:
    source = ctx.target("advisories")
    for project in ctx.config.security.projects:
        audited: list[tuple[Lock, AuditResult]] = []
        yield from audit_project(source, project, audited)
        for lock, result in audited:
            if lock.path == project / "package-lock.json" and (project / "package.json").is_file():
                yield from fix_project(ctx, project, lock, result)


def audit_project(
    source: Advisories, project: Path, audited: list[tuple[Lock, AuditResult]] | None = None
) -> Iterator[Item]:
    """The findings and metrics for one project directory; each lockfile read and its
    audit are appended to ``audited``."""
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
        yield from audit_lock(source, lock, audited)


def audit_lock(
    source: Advisories, lock: Lock, collect: list[tuple[Lock, AuditResult]] | None = None
) -> Iterator[Item]:
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
    if collect is not None:
        collect.append((lock, result))
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


# --- --apply: npm audit fix, after testing ---------------------------------------------------


class FixFailed(RotaError):
    """A fix that did not hold: an advisory left after the upgrade, or failing tests."""


def fix_project(ctx: Context, project: Path, lock: Lock, result: AuditResult) -> Iterator[Item]:
    """Plan (check mode) or make and test (--apply) the upgrades for one npm project."""
    sec = ctx.config.security
    try:
        original = (project / "package.json").read_text(encoding="utf-8")
        plan = plan_fixes(lock, result, json.loads(original))
    except (OSError, ValueError) as exc:
        yield Step(
            f"npm audit fix in {project}",
            StepStatus.FAILED,
            0.0,
            {"project": str(project), "error": f"cannot read {project / 'package.json'}: {exc}"},
        )
        return
    if not plan.upgrades:
        return
    date = datetime.date.today().isoformat()
    out = (
        str(project / f"rota-deps-fix-{date}.patch")
        if sec.fix_output == "patch"
        else f"branch rota/deps-fix-{date}"
    )
    changes = ", ".join(f"{u.name} {'/'.join(u.current)} -> {u.to}" for u in plan.upgrades)
    advisories = sorted({adv.id for _name, adv in plan.targets})
    detail: dict[str, Any] = {
        "project": str(project),
        "upgrades": [u.describe() for u in plan.upgrades if u.section],
        "overrides": [u.describe() for u in plan.upgrades if not u.section],
        "changes": [u.to_dict() for u in plan.upgrades],
        "new_major": [u.name for u in plan.upgrades if u.new_major],
        "advisories": advisories,
        "unfixable": [f"{name}: {adv.id} (no fixed version)" for name, adv in plan.unfixable],
        "command": [
            "npm install --package-lock-only " + " ".join(NPM_FLAGS),
            "npm ci " + " ".join(NPM_FLAGS),
            sec.test_command or "(no test command)",
        ],
        "test_command": sec.test_command,
        "output": out,
    }
    action = f"npm audit fix in {project}: {changes}"
    if not sec.test_command:
        yield Step(
            action,
            StepStatus.SKIPPED,
            0.0,
            {
                **detail,
                "result": "untested",
                "reason": "[security] test_command is not set: a fix is written only after "
                "the project's tests pass, so nothing is written",
            },
        )
        return
    failure: dict[str, Any] = {}

    def do() -> dict[str, Any]:
        try:
            return _fix(ctx, project, original, lock, plan, date)
        except CommandFailed as exc:
            failure["output"] = exc.result.tail
            raise
        except FixFailed as exc:
            failure.update(getattr(exc, "evidence", {}))
            raise

    step = ctx.action(
        action,
        do,
        reason=f"{len(advisories)} advisories with a fixed version in {project}; "
        f"the fix is tested with {sec.test_command!r} in a scratch copy and kept as {out}",
        **detail,
    )
    step.detail.update(failure)
    yield step


def _fix(
    ctx: Context, project: Path, original: str, lock: Lock, plan: FixPlan, date: str
) -> dict[str, Any]:
    sec = ctx.config.security
    assert sec.test_command is not None
    npm = ctx.target("npmproject")
    scratch = npm.scratch(project, f"rota/deps-fix-{date}", FIX_FILES)
    kept = False
    try:
        (scratch.dir / "package.json").write_text(apply_fixes(original, plan), encoding="utf-8")
        npm.npm(scratch.dir, "install", "--package-lock-only", *NPM_FLAGS)
        npm.npm(scratch.dir, "ci", *NPM_FLAGS)
        new_path = scratch.dir / "package-lock.json"
        new_lock = read_package_lock(new_path.read_text(encoding="utf-8"))
        versions = _versions(lock, new_lock, plan)
        left = remaining(new_lock, plan.targets)
        if left:
            raise _failed(
                "advisories remain after the upgrade: "
                + ", ".join(f"{name}@{v} {adv}" for name, v, adv in left),
                {"remaining": [list(x) for x in left], "versions": versions},
            )
        test = npm.shell(sec.test_command, scratch.dir, timeout=sec.test_timeout)
        tested = {"versions": versions, "tests": f"{sec.test_command!r} passed in {test.took:.1f}s"}
        if not test.ok:
            why = "timed out" if test.timed_out else f"exited {test.returncode}"
            raise _failed(
                f"the tests failed: {sec.test_command!r} {why}",
                {"versions": versions, "output": test.tail},
            )
        if sec.fix_output == "branch" and scratch.git:
            commit = npm.keep_branch(
                scratch, _message(project, plan, versions, sec.test_command), FIX_FILES
            )
            kept = True
            return {**tested, "branch": scratch.branch, "commit": commit}
        patch = project / f"rota-deps-fix-{date}.patch"
        patch.write_text(npm.diff(scratch, FIX_FILES), encoding="utf-8")
        note = (
            {}
            if sec.fix_output == "patch"
            else {"note": f"{project} is not in a git repository: wrote a patch, not a branch"}
        )
        return {**tested, "patch": str(patch), **note}
    finally:
        if not kept:
            npm.discard(scratch)


def _failed(message: str, evidence: dict[str, Any]) -> FixFailed:
    exc = FixFailed(message)
    exc.evidence = evidence  # type: ignore[attr-defined]
    return exc


def _versions(old: Lock, new: Lock, plan: FixPlan) -> dict[str, str]:
    """Each upgraded package's versions before and after, as "4.17.1 -> 4.20.0"."""
    out = {}
    for up in plan.upgrades:
        before = sorted({d.version for d in old.dependencies if d.name == up.name})
        after = sorted({d.version for d in new.dependencies if d.name == up.name})
        out[up.name] = f"{', '.join(before)} -> {', '.join(after) or '(removed)'}"
    return out


def _message(project: Path, plan: FixPlan, versions: dict[str, str], tests: str) -> str:
    fixed: dict[str, list[str]] = {}
    for name, adv in plan.targets:
        ids = adv.id + (f" ({', '.join(adv.aliases)})" if adv.aliases else "")
        line = f"- {ids} in {name}: {adv.summary}"
        if line not in fixed.setdefault(name, []):
            fixed[name].append(line)
    lines = [
        f"rota: fix {len({a.id for _n, a in plan.targets})} dependency advisories in {project.name}",
        "",
        "Advisories fixed:",
        *[line for group in fixed.values() for line in group],
        "",
        "Version changes:",
    ]
    for up in plan.upgrades:
        major = " (a new major version)" if up.new_major else ""
        lines.append(f"- {up.name} {versions.get(up.name, up.to)}{major}: {up.describe()}")
    lines += ["", f"Tested with: {tests}", "Made by rota security.dependencies --apply."]
    return "\n".join(lines) + "\n"


TASKS = [dependencies]
