"""Security: the runbook's "Environment Variable Audit", and hardcoded secrets."""

from __future__ import annotations

from collections.abc import Iterator

from rota.errors import TargetUnavailable
from rota.model import Finding, Metric, Severity
from rota.security.envaudit import audit_project
from rota.security.secrets import SecretMatch
from rota.task import Context, Item, task

_SEVERITY = {"critical": Severity.CRITICAL, "warning": Severity.WARNING, "ok": Severity.OK}
_REMEDY = {
    "security.env.missing": "Set it in the deployment's environment (or .env), or give the "
    "code a default; list it in .env.example so the next deploy knows.",
    "security.env.unused": "Remove it from the env file, or find the code that should read it.",
    "security.env.file_mode": "chmod 600 the file (owned by the service's user).",
    "security.env.not_ignored": "Add the file to .gitignore; if it was ever committed, rotate "
    "every value in it and purge it from history (git filter-repo).",
    "security.env.placeholder": "Set the real value from the secret store before deploying.",
}


def _secret_finding(code: str, m: SecretMatch) -> Finding:
    where = f"{m.file}:{m.line}" + (f" (commit {m.commit[:12]})" if m.commit else "")
    what = "a provider's published example value" if m.example else m.rule
    evidence: dict[str, object] = {
        "rule": m.rule,
        "secret_redacted": m.secret_redacted,
        "sha256": m.sha256,
        "file": m.file,
        "line": m.line,
    }
    if m.name:
        evidence["name"] = m.name
    if m.commit:
        evidence["commit"] = m.commit
        evidence["command"] = f"git show {m.commit} -- {m.file}"
    remedy = (
        "Rotate the key at the provider now (history keeps it even after removal), then "
        "purge it from history."
        if m.commit
        else "Move the value to the environment or the secret store and rotate it; if it is a "
        "known test value, add its sha256 to [env] allow."
    )
    sev = _SEVERITY[m.severity]
    return Finding(code, sev, f"{what} at {where}: {m.secret_redacted}", where, evidence, remedy)


@task(
    id="security.env",
    title="Environment variable and secrets audit",
    section="Security",
    frequency="monthly",
    priority="high",
    needs=("project",),
    purpose="Catch configuration that breaks or leaks: variables the code reads that no "
    "deployment sets, stale ones, placeholders shipped to production, .env files others can "
    "read or git can commit, and keys written into code or left in git history.",
    prerequisites=[
        "[env] project: the application's source directory (read-only)",
        "git on PATH for the ignore and history checks",
        "[process] (optional): the running service, whose environment is read from "
        "/proc/PID/environ as another source of set variables",
    ],
    procedure=[
        "List the variables the code reads (process.env.X, process.env['X'], destructuring, "
        "os.environ, os.getenv) and those the .env files and the service's environment set.",
        "Report variables read but set nowhere, and .env entries no code reads.",
        "Check each production .env file: mode 600, ignored by git, never committed, no "
        "placeholder or example values.",
        "Scan the tree for provider keys (OpenAI, SendGrid, AWS, GitHub, Slack, Stripe, "
        "private keys) and high-entropy values under secret-looking names.",
        "Scan the added lines of every commit on every ref for secrets no longer in the tree.",
    ],
    expected_outcome="Every variable read is set, no stray entries, .env files private and "
    "ignored, and no secret in code or history.",
    rollback="Nothing to undo: the audit reads files and git history and changes nothing.",
    time_estimate="30s",
    manual_time="2 hours",
    timeout="10m",
    codes=(
        "security.env.audit",
        "security.env.missing",
        "security.env.unused",
        "security.env.file_mode",
        "security.env.not_ignored",
        "security.env.placeholder",
        "security.secret.hardcoded",
        "security.secret.in_history",
    ),
)
def env_audit(ctx: Context) -> Iterator[Item]:
    project = ctx.target("project")
    cfg = ctx.config.env
    try:
        result = audit_project(
            project,
            files=cfg.files,
            required=cfg.required,
            allow=cfg.allow,
            history=cfg.history,
        )
    except ValueError as e:  # a bad allow file
        raise TargetUnavailable(str(e)) from e
    for p in result.problems:
        subject = f"{p.file}:{p.line}" if p.line else (p.file or p.name)
        yield Finding(
            p.code,
            _SEVERITY[p.severity],
            p.message,
            subject,
            {"name": p.name, "file": p.file, "line": p.line, **p.evidence},
            _REMEDY.get(p.code, ""),
        )
    for m in result.hardcoded:
        yield _secret_finding("security.secret.hardcoded", m)
    for m in result.in_history:
        yield _secret_finding("security.secret.in_history", m)
    yield Metric("security.env.reads", float(result.reads), "count")
    yield Metric("security.secret.hardcoded", float(len(result.hardcoded)), "count")
    yield Metric("security.secret.in_history", float(len(result.in_history)), "count")
    bad = len(result.problems) + len(result.hardcoded) + len(result.in_history)
    summary = f"audited {result.reads} variable reads and {len(result.env_files)} env file(s)"
    yield Finding(
        "security.env.audit",
        Severity.OK,
        "; ".join([summary + ("" if bad else ": nothing to report"), *result.notes]),
        str(project.root),
        {
            "env_files": result.env_files,
            "notes": result.notes,
            "git": result.git,
            "skipped_files": dict(project.skipped),
        },
    )


TASKS = [env_audit]
