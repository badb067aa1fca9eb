"""The hostile-submission batch of tests/test_hostile.py, graded once, as a Markdown table.

    python benchmarks/hostile_cases.py

One row per case: score out of 27, the submission's execution time, and the first failing
check's message (or the submission's own message). Then the batch's wall time, the number of
gradebook rows, any background child that outlived grading (there should be none), and the
grader process's peak resident memory beside its bound (1 GiB with --jobs 2). The batch is
graded by `autograder grade` in a process of its own, two submissions at a time.
"""
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import test_hostile as th  # noqa: E402  (the cases, exactly as the tests build them)


def main():
    subs, out = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    th.write_batch(subs, out)
    th.HOME_FILE.write_text(th.SECRET)
    os.environ["AUTOGRADER_TEST_SECRET"] = th.SECRET
    start = time.monotonic()
    try:
        code, _, peak = th.grade_measured(subs, out)
    finally:
        th.HOME_FILE.unlink()
    seconds = time.monotonic() - start
    rows = {r["submission"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    print("| case | score | time | first message |\n| --- | --- | --- | --- |")
    for name in sorted(rows):
        r = json.loads((out / name / "results.json").read_text())
        failed = [t["output"] for t in r["tests"] if t["score"] < t["max_score"]]
        msg = failed[0] if failed else ("all checks pass" if r["tests"] else r.get("output", ""))
        msg = " ".join(msg.replace("```", "").split())[:110].replace("|", "\\|")
        print(f"| {name} | {float(rows[name]['score']):g}/27 | {r['execution_time']:.1f} s | {msg} |")
    print(f"\nbatch of {len(rows)} submissions (gradebook rows) in {seconds:.1f} s, exit status {code}; "
          f"background children left: {len(th.sleepers())}")
    print(f"grader peak resident memory: {peak / 2**20:.0f} MiB (bound: {th.MEMORY_BOUND / 2**20:.0f} MiB, "
          "--jobs 2)")


if __name__ == "__main__":
    main()
