"""What per-worker control groups cost: the same batch graded with and without them, alternated.

    python benchmarks/cgroups_overhead.py [--n 150] [--rounds 2]

Needs root and writable cgroups (see README, Security); prints the wall time of each batch and
checks that both ways give the same scores.
"""
import argparse
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
from autograder import batch, cgroups  # noqa: E402


def run(subs, with_groups):
    real = cgroups.Groups.create
    if not with_groups:
        cgroups.Groups.create = classmethod(lambda cls: None)
    try:
        start = time.monotonic()
        results = batch.grade_all("gradient_descent", [subs], Path(tempfile.mkdtemp()), progress=False)
        return time.monotonic() - start, {r.submission: r.score for r in results}
    finally:
        cgroups.Groups.create = real


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=150)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    probe = cgroups.Groups.create()
    if probe is None:
        sys.exit("control groups are not available here (needs root and a writable hierarchy)")
    probe.close()
    subs = Path(tempfile.mkdtemp())
    grade_batch.make_submissions("gradient_descent", subs, args.n)
    times, scores = {True: [], False: []}, {}
    for _ in range(args.rounds):
        for with_groups in (False, True):
            seconds, scores[with_groups] = run(subs, with_groups)
            times[with_groups].append(seconds)
            print(f"{'with' if with_groups else 'without'} control groups: {args.n} submissions in {seconds:.1f} s")
    a, b = statistics.median(times[False]), statistics.median(times[True])
    print(f"median: {a:.1f} s without, {b:.1f} s with ({(b / a - 1) * 100:+.1f}%); "
          f"scores identical: {scores[True] == scores[False]}")


if __name__ == "__main__":
    main()
