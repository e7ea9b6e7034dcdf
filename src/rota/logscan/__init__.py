"""Log analysis: formats, fingerprints, routes, exact percentiles, incremental scans.

``scan(globs, cache=...)`` is the entry point; see :mod:`rota.logscan.scan`.
"""

from __future__ import annotations

from rota.logscan.analyze import ParseSettings
from rota.logscan.results import Group, Results
from rota.logscan.scan import ScanCache, ScanOutcome, scan

__all__ = ["Group", "ParseSettings", "Results", "ScanCache", "ScanOutcome", "scan"]
