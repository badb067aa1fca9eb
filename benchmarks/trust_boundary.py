"""What the trust boundary of issue 32 costs, beside what it guards, in one run.

    python benchmarks/trust_boundary.py [--n 40]

  * the uid mode's walk for world-writable folders (``scratch.shared_folders``), once per batch,
    beside the batch it serves (N copies of the reference, graded in the uid mode);
  * the seccomp filter every isolated worker installs (``jail.install_filter``), timed in forked
    children, beside the fork-and-exit of the same process, the floor of starting a worker;
  * the sweep after each uid-mode worker (``scratch.remove_leftovers`` of a uid that left
    nothing), beside the same batch's time per submission;
  * ``text.csv_text`` on a 1,000-row gradebook, beside the ``csv`` module alone.
As root (the uid mode needs it); figures are medians of several runs where cheap.
"""
import argparse
import csv
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import batch, isolation, text  # noqa: E402
from autograder.runtime import jail, scratch  # noqa: E402


def median_seconds(fn, runs=7):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def in_child(work):
    """Fork, run ``work`` in the child, wait: the child's whole life, in seconds."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            work()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return time.perf_counter() - start


def filtered():
    jail._prctl(jail.PR_SET_NO_NEW_PRIVS, 1)
    jail.install_filter(isolation.POLICIES[isolation.Mode.UID].spec())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=40)
    args = p.parse_args()
    import pyseccomp  # noqa: F401 - imported before forking, as the worker template does

    walk = median_seconds(scratch.shared_folders, runs=3)
    print(f"world-writable folders found: {', '.join(scratch.shared_folders())}")
    fork_only = statistics.median(in_child(lambda: None) for _ in range(21))
    with_filter = statistics.median(in_child(filtered) for _ in range(21))
    folders = scratch.shared_folders()
    sweep = median_seconds(lambda: scratch.remove_leftovers(209_999, folders), runs=5)
    rows = [["alice", 27.0, 27, "ok", '=HYPERLINK("x")', 0.0, "s01", "", "", ""]] * 1000

    def plain():
        buf = io.StringIO()
        csv.writer(buf).writerows(rows)
    csv_plain = median_seconds(plain)
    csv_safe = median_seconds(lambda: text.csv_text(rows))

    print("\n| what | cost | beside |")
    print("| --- | --- | --- |")
    if os.geteuid() == 0 and not isolation.probe(isolation.Mode.UID):
        subs, out = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
        for i in range(args.n):
            shutil.copy(ROOT / "examples" / "gradient_descent" / "alice_reference.ipynb", subs / f"s{i:03d}.ipynb")
        start = time.monotonic()
        results = batch.grade_all("gradient_descent", [subs], out, progress=False, isolation="uid")
        wall = time.monotonic() - start
        assert all(r.score == 27 for r in results)
        shutil.rmtree(subs)
        shutil.rmtree(out)
        print(f"| walk for world-writable folders, once per uid-mode batch | {walk * 1e3:.0f} ms | the batch of "
              f"{args.n} in the uid mode: {wall:.1f} s ({walk / wall:.1%}) |")
        print(f"| sweep after one uid-mode worker | {sweep * 1e3:.1f} ms | one submission of that batch: "
              f"{wall / args.n * 1e3:.0f} ms of wall time ({sweep / (wall / args.n):.1%}) |")
    else:
        print(f"| walk for world-writable folders | {walk * 1e3:.0f} ms | (the uid mode needs root) |")
    print(f"| seccomp filter, per worker | {(with_filter - fork_only) * 1e3:.2f} ms | fork and exit alone: "
          f"{fork_only * 1e3:.2f} ms |")
    print(f"| grades.csv of 1,000 rows through text.csv_text | {csv_safe * 1e3:.1f} ms | the csv module alone: "
          f"{csv_plain * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
