"""Build step for the one compiled module; everything else is in pyproject.toml.

``rota.logscan._linescan`` is optional: without a C compiler the install still succeeds and
the log scanner uses its pure-Python path (same results, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "rota.logscan._linescan",
            sources=["src/rota/logscan/_linescan.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
