"""rota: a web platform's maintenance runbook as code."""

__version__ = "0.1.0"
