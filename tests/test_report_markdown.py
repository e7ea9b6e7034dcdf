"""The Markdown and HTML report files."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import ClassVar

from markdown_it import MarkdownIt

from rota.model import Finding, Severity
from rota.report.markdown import render_html, render_markdown
from samples import BLOAT_QUERY, report_with, weekly_report

MESSAGE_WITH_MARKUP = 'body was <script>alert("x")</script> & [link](http://evil) | *bold*'


def md_to_html(text: str) -> str:
    """How a viewer renders the Markdown: CommonMark with tables, raw HTML passed through."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


class Tags(HTMLParser):
    """Collects start tags and checks that every non-void element is closed in order."""

    VOID: ClassVar[set[str]] = {"meta", "br", "hr", "img", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.seen: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unexpected </{tag}>")


def parse_html(text: str) -> Tags:
    tags = Tags()
    tags.feed(text)
    tags.close()
    return tags


# -- Markdown --------------------------------------------------------------------------------
def test_it_starts_with_the_target_mode_time_status_and_counts() -> None:
    lines = render_markdown(weekly_report()).splitlines()
    assert lines[:6] == [
        "# rota check report: production",
        "",
        "- **Status:** CRITICAL (1 critical, 1 unknown, 1 warning, 2 ok, 1 skipped)",
        "- **Target:** production",
        "- **Mode:** check — nothing was changed; 2 planned steps need --apply",
        "- **Started:** 2025-01-06 03:00:00+00:00 (took 26s)",
    ]


def test_it_uses_the_title_it_is_given() -> None:
    assert render_markdown(weekly_report(), title="Weekly maintenance").startswith(
        "# Weekly maintenance\n"
    )


def test_it_summarises_every_task_in_one_table() -> None:
    text = render_markdown(weekly_report())
    assert "| Status | Task | Time | Changed | Summary |" in text
    assert (
        "| **CRITICAL** | `db.vacuum` | 12s | no | "
        "public.messages is 41.7% dead rows (2.1 GiB) (+1 more) |"
    ) in text
    assert "| SKIPPED | `backup.verify` | - | no |" in text


def test_it_details_each_finding_with_evidence_and_the_query_in_a_code_block() -> None:
    text = render_markdown(weekly_report())
    assert "#### CRITICAL `db.bloat.table` — `public.messages`" in text
    assert "**Remedy:** VACUUM FULL public.messages in the maintenance window" in text
    assert "| bytes | 2254857830 (2.1 GiB) |" in text
    assert f"```sql\n{BLOAT_QUERY}\n```" in text
    assert '```sh\ngrep -c \'"level":"error"\' /var/log/rylie/app.log\n```' in text


def test_it_lists_metrics_passed_checks_and_planned_steps() -> None:
    text = render_markdown(weekly_report())
    assert "| `db.vacuum.dead_percent` | 41.7 | percent | table=public.messages |" in text
    assert "- `db.bloat.table` `public.users`: public.users is 1.2% dead rows" in text
    assert "### Planned steps" in text
    assert "- would do: VACUUM FULL public.messages — 41.7% of the table is dead rows" in text
    assert "  ```sql\n  SET lock_timeout = '5s'; VACUUM FULL public.messages;\n  ```" in text


def test_it_lists_done_and_failed_steps_after_an_apply_run() -> None:
    text = render_markdown(weekly_report("apply"))
    assert "### Steps" in text
    assert "- done: VACUUM FULL public.messages (2m 11s)" in text
    assert "  - reclaimed\\_bytes: 940000000 (896.5 MiB)" not in text  # intraword _ unescaped
    assert "  - reclaimed_bytes: 940000000 (896.5 MiB)" in text
    assert "- failed: VACUUM FULL public.conversations (5.0s): LockNotAvailable:" in text


def test_it_escapes_markdown_in_finding_messages() -> None:
    text = render_markdown(report_with(Finding("x.y", Severity.WARNING, MESSAGE_WITH_MARKUP)))
    rendered = md_to_html(text)
    assert "<script>" not in rendered
    assert "&lt;script&gt;" in rendered
    assert "<a href" not in rendered and "<em>bold</em>" not in rendered
    assert "*bold*" in rendered and "[link](http://evil)" in rendered
    # The table row with the summary still has exactly five cells.
    row = next(line for line in text.splitlines() if line.startswith("| **WARNING**"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 6


def test_it_keeps_a_backtick_in_a_query_inside_its_code_block() -> None:
    query = "SELECT 1 AS ```x```"
    text = render_markdown(
        report_with(Finding("x.y", Severity.WARNING, "m", evidence={"query": query}))
    )
    assert f"````sql\n{query}\n````" in text


# -- HTML ------------------------------------------------------------------------------------
def test_it_writes_a_self_contained_html_page() -> None:
    text = render_html(weekly_report())
    tags = parse_html(text)
    assert tags.errors == [] and tags.stack == []
    assert text.startswith("<!doctype html>")
    assert "<style>" in text
    assert not {"script", "link", "img", "iframe"} & set(tags.seen)
    assert "http://" not in text and "https://" not in text


def test_it_escapes_html_in_finding_messages() -> None:
    report = report_with(
        Finding(
            "x.y",
            Severity.CRITICAL,
            MESSAGE_WITH_MARKUP,
            subject="<b>subject</b>",
            evidence={"query": "SELECT '<script>'", "note": "<img src=x onerror=alert(1)>"},
            remedy="<i>remedy</i>",
        ),
        task_id="monitor.health",
    )
    text = render_html(report, title="<title>")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;b&gt;subject&lt;/b&gt;" in text and "&lt;i&gt;remedy&lt;/i&gt;" in text
    assert "<h1>&lt;title&gt;</h1>" in text
    assert not {"script", "img", "b", "i"} & set(parse_html(text).seen)


def test_it_colours_tasks_and_findings_by_status() -> None:
    text = render_html(weekly_report())
    assert '<span class="badge critical">CRITICAL</span>' in text
    assert '<div class="finding warning">' in text
    assert '<span class="badge skipped">SKIPPED</span>' in text
    for state in ("ok", "warning", "critical", "unknown"):
        assert re.search(rf"\.badge\.{state} \{{ background: var\(--{state}\); \}}", text)


def test_it_links_the_summary_to_each_tasks_section() -> None:
    text = render_html(weekly_report())
    assert '<a href="#task-db-vacuum"><code>db.vacuum</code></a>' in text
    assert '<section id="task-db-vacuum">' in text


def test_it_shows_evidence_queries_and_steps_in_html() -> None:
    text = render_html(weekly_report("apply"))
    assert "<tr><th>bytes</th><td>2254857830 (2.1 GiB)</td></tr>" in text
    assert '<pre><code class="language-sql">SELECT relname, n_dead_tup' in text
    assert '<li class="failed">failed: VACUUM FULL public.conversations (5.0s)' in text
    assert "<title>rota apply report: production — CRITICAL</title>" in text
