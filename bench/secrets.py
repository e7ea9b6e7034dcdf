"""The secret rules: recall and false positives on the labelled corpus, and speed.

Accuracy: per rule, keys found by that rule (and by any rule) over the corpus's positives,
and lookalikes anything fired on, for the tuning part and for the held-out part the rules
were not tuned on (tests/secrets_corpus.py records the order).

Speed: a generated tree of about ``--mb`` MB (JS/Python/JSON sources, package-lock files full
of sha512 integrity hashes, a few planted keys) scanned by ``rota security scan --no-env``'s
core (every rule) against the runbook-era shell baseline: ``grep -rEn`` with gitleaks'
OpenAI regex alone. Best of ``--runs``, page cache warm for both.

Run: ``python bench/secrets.py [--mb 50] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from rota.security.secrets import LOCKFILES, scan_project, scan_text
from rota.targets.project import Project
from secrets_corpus import GITLEAKS_OPENAI, HELD_OUT, TUNING, Sample

GITLEAKS_OPENAI_ERE = (
    "sk-(proj|svcacct|admin)-([A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ"
    "([A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})|sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20}"
)


def accuracy(samples: list[Sample]) -> dict[str, object]:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # exact rule, any rule, total
    fps = []
    for s in samples:
        matches = scan_text(s.text, s.file, generic=s.file not in LOCKFILES)
        if s.rule is None:
            if matches:
                fps.append({"text": s.text[:60], "rules": [m.rule for m in matches]})
            continue
        row = per[s.rule]
        row[0] += any(m.rule == s.rule for m in matches)
        row[1] += bool(matches)
        row[2] += 1
    negatives = sum(s.rule is None for s in samples)
    return {
        "recall": {r: f"{a}/{t} ({a / t:.2f})" for r, (a, _, t) in sorted(per.items())},
        "detected_by_any_rule": {r: f"{b}/{t}" for r, (a, b, t) in sorted(per.items()) if b != a},
        "false_positives": f"{len(fps)}/{negatives}",
        "false_positive_lines": fps,
    }


def make_tree(root: Path, mb: int, seed: int = 5) -> int:
    rng = random.Random(seed)
    words = [
        "const",
        "let",
        "return",
        "function",
        "async",
        "await",
        "import",
        "export",
        "from",
        "user",
        "id",
        "name",
        "value",
    ]
    size = 0
    n = 0
    while size < mb * 1024 * 1024:
        d = root / f"pkg{n // 50}"
        d.mkdir(exist_ok=True)
        if n % 10 == 0:
            packages = {
                f"node_modules/p{i}": {
                    "version": "1.0.0",
                    "resolved": f"https://registry.npmjs.org/p{i}/-/p{i}-1.0.0.tgz",
                    "integrity": "sha512-" + base64.b64encode(rng.randbytes(64)).decode(),
                }
                for i in range(300)
            }
            text = json.dumps({"lockfileVersion": 3, "packages": packages}, indent=2)
            path = d / "package-lock.json"
        else:
            lines = []
            for i in range(400):
                ws = " ".join(rng.choice(words) for _ in range(8))
                lines.append(f"  {ws}; // {rng.getrandbits(64):x} process.env.VAR_{i % 40}")
            if n % 97 == 0:
                lines.append(f'const k = "{GITLEAKS_OPENAI[n % 9]}";')
            text = "\n".join(lines) + "\n"
            path = d / f"m{n}.js"
        path.write_text(text)
        size += len(text)
        n += 1
    return size


def best(fn: object, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps({"tuning": accuracy(TUNING), "held_out": accuracy(HELD_OUT)}, indent=2))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        size = make_tree(root, args.mb)
        rota_s, found = best(lambda: list(scan_project(Project(root))), args.runs)
        grep_s, out = best(
            lambda: (
                subprocess.run(
                    ["grep", "-rEn", GITLEAKS_OPENAI_ERE, str(root)], capture_output=True, text=True
                ).stdout
            ),
            args.runs,
        )
        print(
            json.dumps(
                {
                    "tree_mb": round(size / 1e6, 1),
                    "rota_s": round(rota_s, 2),
                    "rota_findings": len(found),  # type: ignore[arg-type]
                    "rota_rules": "all",
                    "grep_s": round(grep_s, 2),
                    "grep_findings": len(str(out).splitlines()),
                    "grep_rules": "gitleaks openai only",
                    "rota_over_grep": round(rota_s / grep_s, 2) if grep_s else None,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
