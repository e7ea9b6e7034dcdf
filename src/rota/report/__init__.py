"""Output writers: one run report, several formats, chosen at the edge (the CLI).

``render(report, fmt)`` gives the text and the exit code for ``json``, ``nagios``,
``prometheus``, ``markdown`` and ``html``. The terminal writer lives in :mod:`rota.report.console` and is
imported only by whoever prints to a terminal, so importing this package never loads Rich.
"""

from __future__ import annotations

from rota.errors import ExitCode, UsageError
from rota.model import RunReport

FORMATS = ("json", "nagios", "prometheus", "markdown", "html")


def render(report: RunReport, fmt: str) -> tuple[str, int]:
    """``report`` as ``fmt`` text, and the exit code of the run (Monitoring Plugins 0-3)."""
    if fmt == "json":
        from rota.report.jsonout import render_json

        return render_json(report), report.status.exit_code
    if fmt == "nagios":
        from rota.report.nagios import render_nagios

        return render_nagios(report)
    if fmt == "prometheus":
        from rota.report.common import nothing_ran
        from rota.report.prometheus import render_prometheus

        # A scrape of a run that ran nothing is no evidence that all is well.
        code = ExitCode.UNKNOWN if nothing_ran(report) else report.status.exit_code
        return render_prometheus(report), int(code)
    if fmt == "markdown":
        from rota.report.markdown import render_markdown

        return render_markdown(report), report.status.exit_code
    if fmt == "html":
        from rota.report.markdown import render_html

        return render_html(report), report.status.exit_code
    raise UsageError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "render"]
