"""rota's own procedures, registered through the ``rota.procedures`` entry-point group
exactly as a plugin's are (``builtin = "rota.procedures:register"``)."""

from __future__ import annotations

from rota.model import Severity
from rota.procedure import ANY_STATUS, AUDITED, Automatic, Manual, Procedure, at_most
from rota.registry import Registry

AUDIT = "security.dependencies"

CRITICAL_VULNERABILITY = Procedure(
    id="critical-vulnerability",
    title="Handling critical security vulnerabilities",
    section="Emergency procedures",
    purpose=(
        "Take a published vulnerability in what the platform runs from first report to a "
        "verified fix in production, with every step and every person's confirmation on "
        "record."
    ),
    prerequisites=(
        "rota.toml with [security] projects and a reachable advisory source (see the "
        f"`{AUDIT}` page).",
        "For the fix: git, node and npm, and [security] test_command; the fix is written "
        "to a branch, never to the deployed tree.",
        "Someone who may deploy to production, and the on-call channel to announce the "
        "emergency window in.",
    ),
    expected_outcome=(
        "The audit of the deployed lockfiles shows no critical finding; the run is done, "
        "with who confirmed each manual step, and an incident holds the timeline."
    ),
    rollback=(
        "Steps 1, 3 and 6 change nothing deployed (3 writes a branch: delete it with "
        "`git branch -D rota/deps-fix-<date>`). A deploy in step 5 is rolled back by "
        "deploying the previous release; `rota procedure abort RUN` ends the run."
    ),
    time_estimate="1-4 hours, most of it waiting for the window",
    steps=(
        Automatic(
            id="assess",
            title="Assess vulnerability impact and exposure",
            task=AUDIT,
            passes=AUDITED,
            detail="which advisories hit production dependencies (direct or transitive); "
            "passes when the audit ran, fails while packages are not audited.",
        ),
        Manual(
            id="mitigate",
            title="Apply temporary mitigation if possible",
            instruction="Limit the exposure until the fix is deployed: disable the affected "
            "feature or route, add a WAF or proxy rule, or restrict access.",
            confirm="a mitigation is in place, or none is possible (say which with --note).",
        ),
        Automatic(
            id="prepare-fix",
            title="Prepare and test the fix in an isolated environment",
            task=AUDIT,
            apply=True,
            passes=ANY_STATUS,
            requires_done="npm audit fix",
            ignore_window=True,  # it writes a branch in a scratch worktree, not production
            detail="the smallest upgrades in a scratch worktree, the lockfile re-checked and "
            "the project's tests run; passes when the fix is kept as a branch or patch.",
        ),
        Manual(
            id="schedule",
            title="Schedule an emergency maintenance window",
            instruction="Agree a window with the service owner and announce it.",
            confirm="the window is scheduled and announced.",
        ),
        Manual(
            id="deploy",
            title="Apply the fix to production with minimal downtime",
            instruction="Review and merge the branch rota/deps-fix-<date> (or apply the "
            "patch) and deploy it in the window.",
            confirm="the fix is merged and deployed.",
        ),
        Automatic(
            id="verify",
            title="Verify the fix's effectiveness",
            task=AUDIT,
            passes=at_most(Severity.WARNING),
            detail="the audit again; passes when every package was audited and no critical "
            "finding is left.",
        ),
        Manual(
            id="document",
            title="Document the incident and the response",
            instruction="Record the timeline: `rota incident open`, `rota incident note ID "
            "TEXT`, then `rota incident postmortem ID -o postmortem.md`.",
            confirm="the incident is documented and the postmortem drafted.",
        ),
    ),
)


def register(registry: Registry[Procedure]) -> None:
    registry.add(CRITICAL_VULNERABILITY)
