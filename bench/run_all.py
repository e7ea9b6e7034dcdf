"""Run every benchmark in bench/ in turn (`make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    worst = 0
    for script in sorted(HERE.glob("*.py")):
        if script.name in ("run_all.py", "__init__.py") or script.name.startswith("_"):
            continue
        print(f"== {script.name}", flush=True)
        rc = subprocess.run([sys.executable, str(script)], check=False).returncode
        worst = max(worst, rc)
    return worst


if __name__ == "__main__":
    sys.exit(main())
