"""A batch split in shards against one process, side by side in one run, on this machine.

    python benchmarks/shards.py [--n 60] [--shards 3] [--assignment gradient_descent]

Makes N submissions (the reference, known bugs and correct alternatives, cycled, as
grade_batch.py does), then grades them (a) with one `autograder grade` process (its default
--jobs, one per core) and (b) as S `autograder grade --shard K/S --jobs 1` processes started
at once into one shared folder, followed by the merge (`autograder report`). Prints the wall
time of each, the speed-up, and whether the two gradebooks are identical. On one machine the
shards share its cores, so this measures the cost of splitting (S grader start-ups, the
merge); on a cluster each shard has a node of its own.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from grade_batch import make_submissions  # noqa: E402

AUTOGRADER = [sys.executable, "-m", "autograder.cli"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--assignment", default="gradient_descent")
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--shards", type=int, default=3)
    args = p.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subs = tmp / "subs"
        subs.mkdir()
        make_submissions(args.assignment, subs, args.n)
        start = time.perf_counter()
        subprocess.run([*AUTOGRADER, "grade", args.assignment, str(subs), "--out", str(tmp / "one"), "-q"],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        one = time.perf_counter() - start
        print(f"one process (--jobs {cores}): {one:.1f} s for {args.n} submissions", flush=True)
        start = time.perf_counter()
        procs = [subprocess.Popen([*AUTOGRADER, "grade", args.assignment, str(subs), "--out", str(tmp / "shared"),
                                   "--shard", f"{k}/{args.shards}", "--jobs", "1", "-q"], cwd=ROOT,
                                  stdout=subprocess.DEVNULL) for k in range(args.shards)]
        codes = [p.wait() for p in procs]
        graded = time.perf_counter() - start
        subprocess.run([*AUTOGRADER, "report", str(tmp / "shared"), "--submissions", str(subs)], check=True,
                       cwd=ROOT, stdout=subprocess.DEVNULL)
        merged = time.perf_counter() - start
        same = (tmp / "one" / "grades.csv").read_bytes() == (tmp / "shared" / "grades.csv").read_bytes()
        print(f"{args.shards} shards at once (--jobs 1 each, exit {codes}): {graded:.1f} s, {merged:.1f} s with the "
              f"merge; speed-up {one / merged:.2f}x on {cores} cores; gradebooks identical: {same}", flush=True)


if __name__ == "__main__":
    main()
