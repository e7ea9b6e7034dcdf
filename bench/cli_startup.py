"""How long `rota --help` and `rota tasks` take to start, against a bare interpreter.

Goal: `rota --help` well under half a second. Run: `python bench/cli_startup.py`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 15
COMMANDS = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    "rota --help": [sys.executable, "-m", "rota", "--help"],
    "rota --version": [sys.executable, "-m", "rota", "--version"],
    "rota tasks": [sys.executable, "-m", "rota", "tasks"],
}


def measure(cmd: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> dict[str, float]:
    results = {name: measure(cmd) for name, cmd in COMMANDS.items()}
    print(f"CLI start-up, median of {RUNS} runs")
    for name, secs in results.items():
        print(f"  {name:<26} {secs * 1000:7.1f} ms")
    return results


if __name__ == "__main__":
    res = main()
    sys.exit(0 if res["rota --help"] < 0.5 else 1)
