"""Triage: the runbook's "Handling Performance Emergencies", as one command.

The spec's steps and what rota does for each:

1. *Identify the bottleneck*: :func:`run` takes a read-only snapshot in a few seconds:
   every probe of :mod:`rota.triage.probes` (database, service, process, logs, host) at
   once, each with its own timeout, and ranks what they saw as suspects
   (:mod:`rota.triage.scoring` has the rules).
2. *Apply immediate mitigations*: each suspect with a safe lever carries a proposal
   (cancel a statement, terminate a backend, clear the cache); :func:`apply` performs
   exactly one, after re-checking that its target is still the one proposed
   (:mod:`rota.triage.actions`).
3. *Analyze root cause*, 4. *implement the fix*, 5. *monitor*: a triage run again shows
   whether the suspect is gone; every snapshot, action and note is one event of an
   incident in history (:mod:`rota.history.incidents`), and the task runs recorded while
   it was open join its timeline.
6. *Document the incident*: :func:`rota.triage.postmortem.render` drafts the postmortem.

Proposal ids are ``INCIDENT.N``: ``12.3`` is proposal 3 of incident 12, numbered across
the incident's snapshots, so an id printed by one triage stays valid (and names the same
action) after the next.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rota.errors import UsageError
from rota.triage.model import ActionResult, Probe, Proposal, Snapshot, Suspect
from rota.triage.probes import ProbeFn, run_probes
from rota.triage.scoring import suspects as rank
from rota.triage.session import Options

if TYPE_CHECKING:
    from rota.app import App
    from rota.config import Config
    from rota.history import History
    from rota.history.incidents import Incident, Incidents

__all__ = [
    "ActionResult",
    "Options",
    "Probe",
    "Proposal",
    "Snapshot",
    "Suspect",
    "apply",
    "incidents",
    "parse_proposal_id",
    "run",
]

PROPOSAL_ID = re.compile(r"^#?(\d+)\.(\d+)$")


def incidents(history: History, config: Config) -> Incidents:
    """The incident store of ``history``, redacting ``config``'s secrets."""
    from rota.history.incidents import Incidents

    return Incidents(history, config.secrets())


def snapshot(
    app: App,
    config: Config,
    history: History | None = None,
    options: Options | None = None,
    probes: dict[str, ProbeFn] | None = None,
) -> Snapshot:
    """Probe everything at once and rank the suspects; changes nothing, records nothing
    (but the baselines of the next triage's deltas, which are rota's own state)."""
    opts = options or Options()
    started = datetime.now(UTC)
    t0 = time.monotonic()
    found = run_probes(app, config, history, opts, probes)
    snap = Snapshot(config.target.name, started, probes=found)
    snap.suspects = rank(found, config)
    snap.took_s = time.monotonic() - t0
    return snap


def run(
    app: App,
    config: Config,
    history: History,
    *,
    options: Options | None = None,
    incident_id: int | None = None,
    title: str | None = None,
    probes: dict[str, ProbeFn] | None = None,
) -> Snapshot:
    """A snapshot, recorded as an event of an incident: ``incident_id``, else the open
    incident of this target, else a new one (called ``title`` when given). Its proposals
    come back numbered (``Proposal.id``)."""
    store = incidents(history, config)
    incident: Incident | None = None
    if incident_id is not None:
        incident = store.require(incident_id)
        if incident.status != "open":
            raise UsageError(f"incident {incident_id} is closed; triage without --incident")
    else:
        incident = store.current(config.target.name)
    snap = snapshot(app, config, history, options, probes)
    if incident is None:
        top = snap.suspects[0].title if snap.suspects else "nothing stood out"
        incident = store.open(
            title or f"triage: {top}", target=config.target.name, at=snap.started_at
        )
    record(store, incident, snap)
    return snap


def record(store: Incidents, incident: Incident, snap: Snapshot) -> None:
    """Add ``snap`` to ``incident``'s timeline; numbers its proposals."""
    proposals = snap.proposals
    numbered = [p.to_dict() for p in proposals]
    body = snap.to_dict()
    body.pop("proposals")
    top = snap.suspects[0] if snap.suspects else None
    summary = (
        f"triage: {len(snap.suspects)} suspect(s), top {top.title} (score {top.score:.0f})"
        if top
        else "triage: no suspect"
    )
    store.add_event(incident.id, "snapshot", summary, body, at=snap.started_at, proposals=numbered)
    for p, d in zip(proposals, numbered, strict=True):
        p.n, p.id = d["n"], d["id"]
    snap.incident_id = incident.id
    store.raise_severity(incident.id, snap.status.value)


def parse_proposal_id(text: str) -> tuple[int, int]:
    """``"12.3"`` -> ``(12, 3)``: incident 12, proposal 3."""
    m = PROPOSAL_ID.match(text.strip())
    if not m:
        raise UsageError(
            f"--apply {text!r}: give a proposal id as rota triage prints it, INCIDENT.N (e.g. 12.3)"
        )
    return int(m[1]), int(m[2])


def apply(app: App, config: Config, history: History, proposal_id: str) -> ActionResult:
    """Perform proposal ``proposal_id`` and record it in its incident's timeline: as
    ``started`` before it is attempted, then with its result."""
    from rota.triage.actions import perform

    incident_id, n = parse_proposal_id(proposal_id)
    store = incidents(history, config)
    incident = store.require(incident_id)
    if incident.status != "open":
        raise UsageError(f"incident {incident_id} is closed: run rota triage for a new snapshot")
    found = store.proposal(incident_id, n)
    if found is None:
        known = incident.proposals
        have = f"it has 1-{known}" if known else "it has none"
        raise UsageError(f"incident {incident_id} has no proposal {n} ({have})")
    proposal = Proposal.from_dict(found[0])
    event = store.add_event(
        incident_id,
        "action",
        f"applying {proposal.id}: {proposal.command}",
        {"status": "started", "proposal": proposal.to_dict(), "snapshot_seq": found[1].seq},
    )
    result = perform(app, config, proposal)
    store.complete_event(
        event,
        f"{proposal.id} {result.status}: {result.detail}",
        {**result.to_dict(), "snapshot_seq": found[1].seq},
    )
    return result
