"""The runbook page of ``rota triage`` and ``rota incident``: the spec's "Handling
Performance Emergencies" in the runbook template, rendered by ``rota docs``."""

from __future__ import annotations

from rota.docs import Page

PAGE = Page(
    id="triage",
    title="Handling performance emergencies",
    section="Emergency procedures",
    purpose=(
        "Find what is slowing the platform down while it is happening, apply the one "
        "mitigation that relieves it, and leave a record from which the postmortem is written."
    ),
    prerequisites=(
        "rota.toml with [database] url; [http] base_url, [logs] paths and [process] add "
        "their probes (a probe whose section is missing is skipped).",
        "pg_stat_statements for the top statements since the last snapshot (optional).",
        "A role that may call pg_cancel_backend / pg_terminate_backend on the application's "
        "sessions, for the mitigations (pg_signal_backend or the same role).",
    ),
    procedure=(
        "Identify the bottleneck: `rota triage`. A read-only snapshot of the database "
        "(sessions, blocking chains, long and idle-in-transaction sessions, locks, hit ratio, "
        "top statements), the service (health latency, cache), the processes (memory, CPU), "
        "the last 15 minutes of logs and the host, in a few seconds. Suspects are ranked by "
        "score, the first line is the thing to act on.",
        "Apply the immediate mitigation: `rota triage --apply ID` performs exactly one "
        "proposal (cancel a statement, terminate a blocking or idle-in-transaction backend, "
        "clear the cache) after checking the backend is still the session it was proposed for.",
        "Check the effect: `rota triage` again; the suspect should be gone or lower.",
        "Analyze the root cause and implement the fix: `rota incident note ID TEXT` keeps "
        "what was seen and done in the incident's timeline.",
        "Monitor: the scheduled tasks (db.connections, monitor.memory, logs.analyze) join "
        "the timeline while the incident is open.",
        "Document the incident: `rota incident close ID --summary TEXT`, then "
        "`rota incident postmortem ID -o postmortem.md` drafts the postmortem.",
    ),
    expected_outcome=(
        "The top suspect names the cause with its evidence; after the mitigation the next "
        "snapshot no longer shows it; the incident holds every snapshot, action and note."
    ),
    rollback=(
        "A snapshot changes nothing. A cancelled statement or terminated session cannot be "
        "undone: its transaction is rolled back and the client retries or reports an error. "
        "A cache clear costs misses until the cache refills."
    ),
    time_estimate="10s",
    manual_time="30-60 minutes of psql, ps and grep under pressure",
    commands=(
        "rota triage                      # snapshot, ranked suspects, proposals",
        "rota triage --format json        # the same, for a chat bot or a ticket",
        "rota triage --apply 12.3         # perform proposal 3 of incident 12",
        "rota incident show 12            # the timeline",
        "rota incident note 12 'rolled back deploy 4711'",
        "rota incident close 12 --summary 'migration held a lock on messages'",
        "rota incident postmortem 12 -o postmortem.md",
    ),
)
