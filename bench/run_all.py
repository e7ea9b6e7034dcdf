"""Run every benchmark in bench/ in turn (`make bench`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    worst = 0
    for script in sorted(HERE.glob("*.py")):
        if script.name in ("run_all.py", "__init__.py") or script.name.startswith("_"):
            continue
        args: list[str] = []
        if script.name == "grouping.py":
            # Needs a labelled corpus (e.g. the Loghub 2k samples), which is not in the repo.
            corpus = os.environ.get("ROTA_GROUPING_CORPUS", "")
            if not corpus:
                print(f"== {script.name}: skipped (set ROTA_GROUPING_CORPUS to a corpus dir)")
                continue
            args = [corpus]
        print(f"== {script.name}", flush=True)
        rc = subprocess.run([sys.executable, str(script), *args], check=False).returncode
        worst = max(worst, rc)
    return worst


if __name__ == "__main__":
    sys.exit(main())
