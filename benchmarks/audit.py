"""What `autograder audit` costs: every mutant of each assignment graded in one batch, beside a
baseline that grades K of the same mutants one `autograder grade` process each (what a script
around any grader does), in the same run.

    python benchmarks/audit.py [--assignment NAME ...] [--baseline K] [--jobs J]

Prints per assignment: mutants, killed, reviewed as equivalent, survived, wall time, the grader
process's own CPU time (the workers' is not included: they are not its children), and the
baseline's seconds per mutant.
"""
import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import assignments, audit, batch  # noqa: E402


def cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def baseline(a, found, k):
    """Seconds per mutant when each is graded by its own `autograder grade` process."""
    if not k:
        return None
    with tempfile.TemporaryDirectory(prefix="ag-audit-bench-") as tmp:
        files = None
        if a.submission_files:
            from autograder import verify
            files = verify.reference_run(a, progress=False)
        paths = [audit._write(a, m, Path(tmp), files) for m in found[:k]]
        start = time.monotonic()
        for i, path in enumerate(paths):
            subprocess.run([sys.executable, "-m", "autograder.cli", "grade", a.name, str(path), "--out",
                            str(Path(tmp) / f"out{i}"), "--quiet"], capture_output=True, check=False)
        return (time.monotonic() - start) / len(paths)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assignment", nargs="*", default=list(assignments.names()))
    p.add_argument("--baseline", type=int, default=3, help="mutants graded one process each (default: 3)")
    p.add_argument("--jobs", type=int, default=batch.default_jobs())
    args = p.parse_args()
    rows = []
    for name in args.assignment:
        cpu0, start = cpu_seconds(), time.monotonic()
        report = audit.audit(name, jobs=args.jobs, progress=False)
        wall, cpu = time.monotonic() - start, cpu_seconds() - cpu0
        per_process = baseline(assignments.get(name), report.mutants, args.baseline)
        rows.append((name, report, wall, cpu, per_process))
        print(f"{name}: {report.tried} mutants in {wall:.1f} s", file=sys.stderr)
    print(f"\n{'assignment':<20}{'mutants':>8}{'killed':>8}{'equiv.':>8}{'survived':>9}{'wall':>9}{'grader CPU':>12}"
          f"{'per mutant':>12}{'one process each':>18}")
    for name, r, wall, cpu, per_process in rows:
        each = f"{per_process:.2f} s" if per_process else "-"
        print(f"{name:<20}{r.tried:>8}{r.killed:>8}{r.equivalent:>8}{r.survived:>9}{wall:>8.1f}s"
              f"{cpu:>11.1f}s{wall / max(1, r.tried):>11.2f}s{each:>18}")
    print(f"\n{batch.default_jobs()} cores, --jobs {args.jobs}; 'one process each': `autograder grade` per mutant, "
          f"the mean of {args.baseline}")


if __name__ == "__main__":
    main()
