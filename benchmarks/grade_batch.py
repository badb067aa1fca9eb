"""Batch grading throughput, side by side with `otter run`, in one run.

    python benchmarks/grade_batch.py                                  # gradient_descent, 100 and 1000
    python benchmarks/grade_batch.py --assignment mlp_backprop --n 100
    python benchmarks/grade_batch.py --assignment mnist_study --n 6   # runs the study once (~60 s)
    python benchmarks/grade_batch.py --n 100 --pages 3                 # what the feedback pages cost

Makes N submissions by cycling through the reference, the known-bug variants and the correct
alternatives (the ones the tests use), grades them with `autograder grade` in a separate
process (wall clock, as a user runs it), and grades a sample of them, one at a time, with
plain `otter run` on the zip `autograder build` makes. Prints, per batch: submissions per
second, per-submission latency under load (median and worst, from results.json's
execution_time), peak memory (the grader's resident set, and the proportional set size of
every grading process summed, sampled every second; the sampling's own CPU is printed beside it, as it takes from the
batch's cores), and the speed ratio against otter.
"""
import argparse
import collections
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from itertools import cycle, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import variants  # noqa: E402
from autograder import assignments, build  # noqa: E402


def sources(name):
    """(label, source text) of every reference/bug/alternative variant of an assignment."""
    mod = {"gradient_descent": "variants", "mlp_backprop": "variants_mlp", "mnist_study": "variants_mnist"}[name]
    v = __import__(mod)
    out = [("reference", v.reference_text())]
    bugs = getattr(v, "BUGS", None) or getattr(v, "CODE_BUGS", {})
    out += [(f"bug_{b}", variants.patch(v.reference_text(), edits)) for b, (edits, _) in bugs.items()]
    out += [(f"alt_{a}", variants.patch(v.reference_text(), e)) for a, e in getattr(v, "ALTERNATIVES", {}).items()]
    return out


def study_files(folder):
    """mnist_study's handed-in files: the reference notebook run top to bottom, once."""
    import shutil

    from nbclient import NotebookClient
    a = assignments.get("mnist_study")
    shutil.copy(a.support_files["mnist_data.py"], folder / "mnist_data.py")
    print("running the reference mnist study once for its files ...", flush=True)
    NotebookClient(build.solution_notebook(a.solution), timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    return folder


def make_submissions(name, folder, n, files_from=None):
    made = []
    for i, (label, text) in enumerate(islice(cycle(sources(name)), n)):
        if name == "mnist_study":
            import variants_mnist
            made.append(variants_mnist.make_folder(folder / f"s{i:04d}_{label}", text, files_from))
        else:
            made.append(variants.write(folder, f"s{i:04d}_{label}", text))
    return made


class MemorySampler(threading.Thread):
    """Peak memory of a grading run: the grader's RSS and the summed PSS of the grader, its
    template and every worker (workers are found by the runtime's command line, since a
    PID-namespaced worker is not a descendant of the grader)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop, self.peak_pss, self.peak_rss = pid, threading.Event(), 0, 0
        self.cpu = 0.0

    @staticmethod
    def _field(pid, fname, key):
        try:
            for line in open(f"/proc/{pid}/{fname}"):
                if line.startswith(key):
                    return int(line.split()[1]) << 10
        except (OSError, ValueError):
            pass
        return 0

    def run(self):
        start = time.thread_time()
        while not self.stop.is_set():
            total = 0
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmd = open(f"/proc/{pid}/cmdline", "rb").read()
                except OSError:
                    continue
                if int(pid) == self.pid or b"agr_runtime" in cmd:
                    total += self._field(pid, "smaps_rollup", "Pss:")
            self.peak_pss = max(self.peak_pss, total)
            self.peak_rss = max(self.peak_rss, self._field(self.pid, "status", "VmRSS:"))
            self.cpu = time.thread_time() - start  # taken from the batch's cores: reported beside it
            self.stop.wait(1.0)


def grade_batch(name, subs, out, jobs, extra=()):
    cmd = [sys.executable, "-m", "autograder.cli", "grade", name, str(subs), "--out", str(out), "-q", *extra]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, cwd=ROOT)
    sampler = MemorySampler(proc.pid)
    sampler.start()
    if proc.wait() != 0:
        raise SystemExit(f"autograder grade failed ({proc.returncode})")
    seconds = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    rows = list(csv.DictReader(open(out / "grades.csv")))
    res = [json.loads((out / r["submission"] / "results.json").read_text()) for r in rows]
    latency = [r["execution_time"] for r in res]
    cpu = [r["extra_data"].get("student_cpu_seconds", 0) for r in res]
    return seconds, rows, latency, cpu, sampler


def otter_sample(name, made, k, tmp):
    """`otter run` on the built zip for k of the submissions, one at a time; seconds each."""
    if k <= 0:
        return []
    _, zip_path, _ = build.build_dist(assignments.get(name), tmp / "dist")
    times = []
    for path in made[:k]:
        if name == "mnist_study":
            import shutil
            sub = shutil.make_archive(str(tmp / f"otter-{path.name}"), "zip", path)
        else:
            sub = variants.as_notebook(path.read_text(), tmp / f"otter-{path.stem}.ipynb")
        out = tmp / f"otter-out-{path.stem}"
        out.mkdir()
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(zip_path), "-o", str(out),
                               str(sub)], capture_output=True, text=True, cwd=tmp)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0 or not (out / "results.json").exists():
            print(f"  otter run failed on {path.name}:\n{proc.stdout[-500:]}{proc.stderr[-500:]}")
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--assignment", default="gradient_descent", choices=assignments.NAMES)
    p.add_argument("--n", type=int, action="append", help="batch size (repeatable; default 100 and 1000)")
    p.add_argument("--otter", type=int, default=3, help="submissions also graded with otter run (default 3)")
    p.add_argument("--jobs", type=int, default=None, help="passed to autograder grade (default: its own)")
    p.add_argument("--pages", type=int, default=0, metavar="R",
                   help="instead: the cost of the feedback pages. Grade each batch R times with pages and R "
                        "times with --no-pages, alternating, then draw the pages afterwards with "
                        "`autograder report`; print the medians")
    args = p.parse_args()
    if args.pages:
        return compare_pages(args)
    name = args.assignment
    cores = len(os.sched_getaffinity(0))
    print(f"{name}: {cores} cores, jobs {args.jobs or 'default (one per core)'}", flush=True)
    otter_times, files, keep = None, None, tempfile.TemporaryDirectory()
    if name == "mnist_study":  # the handed-in files, made once for every batch
        files = study_files(Path(keep.name))
    for n in args.n or [100, 1000]:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            subs, out = tmp / "subs", tmp / "out"
            subs.mkdir()
            made = make_submissions(name, subs, n, files)
            seconds, rows, latency, cpu, mem = grade_batch(name, subs, out, args.jobs)
            scores = collections.Counter(float(r["score"]) for r in rows)
            status = collections.Counter(r["status"] for r in rows)
            print(f"autograder grade, {n} submissions: {seconds:.1f} s wall, {n / seconds:.2f} submissions/s "
                  f"({1000 * seconds / n:.0f} ms each); latency under load median {statistics.median(latency):.2f} s, "
                  f"worst {max(latency):.2f} s; peak memory: grader {mem.peak_rss / 2**20:.0f} MiB RSS, "
                  f"all grading processes {mem.peak_pss / 2**20:.0f} MiB PSS (sampling them cost {mem.cpu:.1f} s "
                  f"of CPU); graded {len(rows)} "
                  f"{dict(status)}; scores {dict(sorted(scores.items()))}", flush=True)
            floor = sum(cpu) / cores  # the submissions' own CPU seconds, spread over every core
            print(f"  the submissions' own code used {1000 * statistics.mean(cpu):.0f} ms of CPU per submission "
                  f"(mean): at {cores} cores no grader can take less than {1000 * statistics.mean(cpu) / cores:.0f} ms "
                  f"of wall time per submission; floor for the batch {floor:.1f} s, this run {seconds:.1f} s: "
                  f"{seconds / floor if floor else float('nan'):.2f}x the floor (goal: at most 1.5x)", flush=True)
            if otter_times is None:
                otter_times = otter_sample(name, made, args.otter, tmp)
                if otter_times:
                    print(f"otter run on the built zip, {len(otter_times)} submissions one at a time: median "
                          f"{statistics.median(otter_times):.1f} s, worst {max(otter_times):.1f} s", flush=True)
            if otter_times:
                print(f"  speed ratio: {statistics.median(otter_times) / (seconds / n):.0f}x otter run's median "
                      f"time per submission", flush=True)


def compare_pages(args):
    """Grading with pages against grading without them (`--no-pages`), same submissions,
    alternating so that neither always runs on a warmer machine; and `autograder report`
    drawing the pages afterwards, the other way to pay for them."""
    name = args.assignment
    for n in args.n or [100]:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            subs = tmp / "subs"
            subs.mkdir()
            make_submissions(name, subs, n)
            times = {"pages": [], "no pages": [], "report afterwards": []}
            for r in range(args.pages):
                for label in (("no pages", "pages") if r % 2 == 0 else ("pages", "no pages")):
                    out = tmp / f"out-{r}-{label.replace(' ', '-')}"
                    seconds, rows, *_ = grade_batch(name, subs, out, args.jobs,
                                                    ["--no-pages"] if label == "no pages" else [])
                    times[label].append(seconds)
                    pages = len(list(out.glob("*/feedback.html")))
                    if label == "no pages":
                        start = time.perf_counter()
                        subprocess.run([sys.executable, "-m", "autograder.cli", "report", str(out)], check=True,
                                       stdout=subprocess.DEVNULL, cwd=ROOT)
                        times["report afterwards"].append(time.perf_counter() - start)
                    print(f"  run {r + 1}, {label}: {seconds:.1f} s for {n} submissions ({pages} pages)", flush=True)
            med = {k: statistics.median(v) for k, v in times.items()}
            print(f"{name}, {n} submissions, median of {args.pages}: grading with pages {med['pages']:.1f} s, "
                  f"without {med['no pages']:.1f} s: pages cost {100 * (med['pages'] / med['no pages'] - 1):+.1f} %; "
                  f"drawing them afterwards with `autograder report` takes {med['report afterwards']:.1f} s "
                  f"({100 * med['report afterwards'] / med['no pages']:.1f} % more)", flush=True)


if __name__ == "__main__":
    main()
