"""What isolation costs: the same batch graded in each isolation mode this machine offers,
alternated round by round, in one run.

    python benchmarks/isolation_overhead.py [--n 100] [--rounds 2]

Modes: "root" (as root: namespaces, own uid, control groups), "user" (a user namespace: what
an ordinary user gets; as root, entered as root), "none" (``--no-sandbox``). Prints the wall
time of each batch, the median per mode against "none", and whether every mode gave the
same scores.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import grade_batch  # noqa: E402
from autograder import batch, isolation  # noqa: E402


def run(subs, mode):
    start = time.monotonic()
    results = batch.grade_all("gradient_descent", [subs], Path(tempfile.mkdtemp()), progress=False, isolation=mode)
    return time.monotonic() - start, {r.submission: r.score for r in results}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    modes = [m.value for m in (isolation.ORDER_AS_ROOT if os.geteuid() == 0 else isolation.ORDER_AS_USER)
             if not isolation.probe(m)] + ["none"]
    subs = Path(tempfile.mkdtemp())
    grade_batch.make_submissions("gradient_descent", subs, args.n)
    times, scores = {m: [] for m in modes}, {}
    for _ in range(args.rounds):
        for mode in modes:
            seconds, scores[mode] = run(subs, mode)
            times[mode].append(seconds)
            print(f"{mode:5s}: {args.n} submissions in {seconds:.1f} s", flush=True)
    base = statistics.median(times["none"])
    for mode in modes:
        m = statistics.median(times[mode])
        print(f"median {mode:5s}: {m:.1f} s ({m / args.n * 1000:.0f} ms per submission, "
              f"{(m / base - 1) * 100:+.1f}% against none)")
    print(f"scores identical in every mode: {all(s == scores['none'] for s in scores.values())}")


if __name__ == "__main__":
    main()
