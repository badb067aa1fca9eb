"""Time `autograder grade` on N generated submissions (the reference, the known-bug variants
and the correct alternatives, cycled), as a user runs it: a separate process, wall clock.

    python benchmarks/grade_batch.py --n 1 --n 50

Prints, per batch size: total seconds, seconds per submission, and the score histogram (so a
run that silently failed to grade is visible).
"""
import argparse
import collections
import csv
import subprocess
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import variants  # noqa: E402


def make_submissions(folder, n):
    sources = [("reference", variants.reference_text())]
    sources += [(f"bug_{b}", variants.bug_variant(b)) for b in variants.BUGS]
    sources += [(f"alt_{a}", variants.alternative_variant(a)) for a in variants.ALTERNATIVES]
    for i, (name, text) in enumerate(islice(cycle(sources), n)):
        variants.write(folder, f"s{i:04d}_{name}", text)


def run(n, extra):
    with tempfile.TemporaryDirectory() as tmp:
        subs, out = Path(tmp) / "subs", Path(tmp) / "out"
        subs.mkdir()
        make_submissions(subs, n)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "gradient_descent", str(subs),
                        "--out", str(out), "-q", *extra], check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        rows = list(csv.DictReader(open(out / "grades.csv")))
    scores = collections.Counter(float(r["score"]) for r in rows)
    print(f"{n:5d} submissions: {seconds:7.1f} s total, {seconds / n:6.2f} s per submission; "
          f"graded {len(rows)}, scores {dict(sorted(scores.items()))}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, action="append", help="batch size (repeatable; default 1 and 50)")
    args, extra = p.parse_known_args()
    for n in args.n or [1, 50]:
        run(n, extra)


if __name__ == "__main__":
    main()
