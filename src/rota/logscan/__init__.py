"""Log analysis: formats, fingerprints, routes, exact percentiles, incremental scans.

``scan(globs, cache=...)`` in :mod:`rota.logscan.scan` is the entry point. Nothing is
imported here: loading the task list (``rota tasks``) should not compile the scanner's
regexes.
"""
