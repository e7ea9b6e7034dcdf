"""Grouping accuracy: rota's event groups vs hand-labelled real logs (Loghub 2k samples,
which rota does not ship: point the script at a copy; tests/corpus.py builds the other
corpus, of real Node and Python loggers' output).

Takes one or more corpus directories and finds in each, recursively, pairs ``NAME.log`` +
``NAME.labels`` (one true event id per log line, same order; a label ``-`` means unlabelled:
the line is still fed to rota but left out of the score). Each log goes through rota's real
CLI, ``python -m rota logs fingerprint FILE``, and the ``group`` of every output line is
scored against the labels with Group Accuracy (see ``rota.logscan.accuracy``): a line counts
iff its predicted group holds exactly the lines of its true group.

Splits: tune on ``dev``, check on ``holdout``. For the Loghub corpus they are fixed below;
any other name is dev unless a file ``SPLIT`` in its corpus directory (or its own directory)
lists it, one name a line, as holdout. ``--worst N`` prints, per file, the N true groups
with the most wrongly grouped lines and what rota made of them.

    .venv/bin/python bench/grouping.py LOGHUB_DIR --split dev [--worst 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

# Fixed before any result was looked at: grouping was tuned on DEV only.
DEV = ("Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop", "Proxifier", "Zookeeper")
HOLDOUT = ("HealthApp", "Linux", "Mac", "OpenSSH", "OpenStack", "Spark", "Thunderbird", "Windows")
UNLABELLED = "-"


@dataclass
class Sample:
    name: str
    log: Path
    labels: Path
    split: str


@dataclass
class Result:
    sample: Sample
    lines: int
    scored: int
    true_groups: int
    predicted_groups: int
    accuracy: float
    seconds: float
    missing: int  # log lines rota printed no group for
    worst: list[dict[str, object]] = field(default_factory=list)


def _split_names(directory: Path) -> set[str]:
    marker = directory / "SPLIT"
    if not marker.is_file():
        return set()
    names = (line.split("#")[0].strip() for line in marker.read_text().splitlines())
    return {n for n in names if n}


def find_samples(corpora: list[Path]) -> list[Sample]:
    """Every NAME.log with a NAME.labels beside it, under each corpus directory."""
    found: list[Sample] = []
    for corpus in corpora:
        root_holdout = _split_names(corpus)
        for labels in sorted(corpus.rglob("*.labels")):
            log = labels.with_suffix(".log")
            if not log.is_file():
                continue
            name = labels.stem
            if name in HOLDOUT or name in root_holdout | _split_names(labels.parent):
                split = "holdout"
            else:
                split = "dev"
            found.append(Sample(name, log, labels, split))
    return found


def fingerprint(log: Path) -> tuple[dict[int, tuple[str, str]], float]:
    """Run rota's CLI on one file: {line number: (group, template)}, seconds taken."""
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "rota", "logs", "fingerprint", str(log)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t
    out: dict[int, tuple[str, str]] = {}
    for raw in proc.stdout.splitlines():
        if raw.strip():
            rec = json.loads(raw)
            out[int(rec["line"])] = (str(rec["group"]), str(rec.get("template", "")))
    return out, seconds


def evaluate(sample: Sample, worst: int = 0, examples: int = 3) -> Result:
    from rota.logscan.accuracy import correct_lines

    text = sample.log.read_text(encoding="utf-8", errors="replace").splitlines()
    truth_all = sample.labels.read_text().splitlines()
    if len(truth_all) != len(text):
        raise SystemExit(f"{sample.labels}: {len(truth_all)} labels for {len(text)} log lines")
    groups, seconds = fingerprint(sample.log)
    keep = [i for i, label in enumerate(truth_all) if label.strip() != UNLABELLED]
    truth = [truth_all[i].strip() for i in keep]
    # A line rota gave no group is its own group (it can only be right as a singleton).
    pred_tmpl = [groups.get(i + 1, (f"<missing line {i + 1}>", "")) for i in keep]
    predicted = [g for g, _ in pred_tmpl]
    ok = correct_lines(predicted, truth)
    result = Result(
        sample=sample,
        lines=len(text),
        scored=len(keep),
        true_groups=len(set(truth)),
        predicted_groups=len(set(predicted)),
        accuracy=sum(ok) / len(ok) if ok else 1.0,
        seconds=seconds,
        missing=sum(1 for i in range(len(text)) if i + 1 not in groups),
    )
    if worst:
        wrong: dict[str, list[int]] = defaultdict(list)
        size: Counter[str] = Counter(truth)
        for j, good in enumerate(ok):
            if not good:
                wrong[truth[j]].append(j)
        ranked = sorted(wrong.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:worst]
        for label, idx in ranked:
            by_group: Counter[str] = Counter(predicted[j] for j in idx)
            shown: list[dict[str, object]] = []
            for gid, n in by_group.most_common(examples):
                j = next(j for j in idx if predicted[j] == gid)
                # how many lines of other true groups share this predicted group
                foreign = sum(1 for k, p in enumerate(predicted) if p == gid and truth[k] != label)
                shown.append(
                    {
                        "group": gid,
                        "lines": n,
                        "shared_with_other_events": foreign,
                        "template": pred_tmpl[j][1],
                        "example": text[keep[j]],
                        "line": keep[j] + 1,
                    }
                )
            result.worst.append(
                {
                    "event": label,
                    "wrong": len(idx),
                    "size": size[label],
                    "predicted_groups": len(by_group),
                    "groups": shown,
                }
            )
    return result


def _mean(results: list[Result]) -> float | None:
    return statistics.fmean(r.accuracy for r in results) if results else None


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def to_json(results: list[Result]) -> dict[str, object]:
    return {
        "files": [
            {
                "name": r.sample.name,
                "path": str(r.sample.log),
                "split": r.sample.split,
                "lines": r.lines,
                "scored": r.scored,
                "true_groups": r.true_groups,
                "predicted_groups": r.predicted_groups,
                "ga": round(r.accuracy, 4),
                "seconds": round(r.seconds, 3),
                "missing": r.missing,
                **({"worst": r.worst} if r.worst else {}),
            }
            for r in results
        ],
        "mean_ga": {
            split: _rounded(_mean([r for r in results if split in ("all", r.sample.split)]))
            for split in ("dev", "holdout", "all")
        },
    }


def print_table(results: list[Result]) -> None:
    print(f"{'file':14} {'split':8} {'lines':>6} {'true':>5} {'pred':>5} {'GA':>7} {'s':>6}")
    for r in results:
        note = f"  ({r.lines - r.scored} unlabelled)" if r.scored != r.lines else ""
        note += f"  ({r.missing} lines without a group)" if r.missing else ""
        print(
            f"{r.sample.name:14} {r.sample.split:8} {r.lines:6d} {r.true_groups:5d} "
            f"{r.predicted_groups:5d} {r.accuracy:7.4f} {r.seconds:6.2f}{note}"
        )
    for split in ("dev", "holdout"):
        part = [r for r in results if r.sample.split == split]
        if part:
            print(f"mean GA {split:8} {_mean(part):.4f}  over {len(part)} files")
    if len({r.sample.split for r in results}) > 1:
        print(f"mean GA {'all':8} {_mean(results):.4f}  over {len(results)} files")


def print_worst(results: list[Result]) -> None:
    for r in results:
        if not r.worst:
            continue
        print(f"\n== {r.sample.name}: GA {r.accuracy:.4f}, worst true groups")
        for w in r.worst:
            print(
                f"  event {w['event']}: {w['wrong']}/{w['size']} lines wrong, "
                f"spread over {w['predicted_groups']} predicted group(s)"
            )
            groups = w["groups"]
            assert isinstance(groups, list)
            for g in groups:
                print(
                    f"    {g['lines']:4d} in {g['group']} (+{g['shared_with_other_events']} "
                    f"of other events)  template: {g['template']}"
                )
                print(f"         line {g['line']}: {str(g['example'])[:200]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "corpus", nargs="+", type=Path, help="corpus directories (searched recursively)"
    )
    ap.add_argument("--split", choices=("dev", "holdout", "all"), default="all")
    ap.add_argument("--json", action="store_true", help="print machine-readable results")
    ap.add_argument("--worst", type=int, default=0, metavar="N", help="show N worst true groups")
    ap.add_argument("--only", action="append", default=[], help="only files with this name")
    args = ap.parse_args(argv)
    for corpus in args.corpus:
        if not corpus.is_dir():
            ap.error(f"not a directory: {corpus}")
    samples = find_samples(args.corpus)
    if args.split != "all":
        samples = [s for s in samples if s.split == args.split]
    if args.only:
        samples = [s for s in samples if s.name in args.only]
    if not samples:
        print("no NAME.log + NAME.labels pairs found", file=sys.stderr)
        return 1
    results = [evaluate(s, worst=args.worst) for s in samples]
    if args.json:
        print(json.dumps(to_json(results), indent=2))
    else:
        print_table(results)
        print_worst(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
