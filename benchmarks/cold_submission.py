"""One cold submission: the CPU seconds (and wall seconds) a student waits for, floor beside.

    python benchmarks/cold_submission.py                           # every assignment, median of 3
    python benchmarks/cold_submission.py --assignment gradient_descent --runs 5
    python benchmarks/cold_submission.py --container               # also under Gradescope's limits

Gradescope grades each submission in a fresh container with half a virtual CPU by default: the
CPU seconds of one cold grading are what a student waits for, twice over. For each assignment's
reference submission (as ``autograder check`` hands it in), in one run:

  floor          ``python -c "import torch, numpy, matplotlib"`` plus the submission's own CPU
                 (``student_cpu_seconds`` of its results.json): no grader can do with less;
  grade          ``autograder grade NAME SUB --no-pages`` in a fresh process, the reference's
                 answers recorded (a second cold run);
  grade, pages   the same with the feedback page (the default);
  first run      ``grade`` with no recorded answers (an empty cache folder): the reference runs;
  one process    ``grade`` with ``AUTOGRADER_FORK=0``: the grader and its template each import
                 torch (how every run went before ``forked_grader``);
  gradescope     the built zip's ``run_autograder`` in Gradescope's layout (``/autograder`` bound
                 in a mount namespace of its own; root only), its shipped answers in use;
  otter run      the same zip through otter's ``run_otter.py`` (otter imports itself, pandas, and
                 starts a kernel), as the zip graded before ``gradescope.py``;
  container      (``--container``) ``gradescope`` in a container of the repository's image under
                 ``--cpus 0.5 --memory 768m``: wall seconds, whether it was killed for memory.

CPU and peak memory are those of every process a command starts (grader, template, workers,
page drawer), read from a control group made for the command (cgroup v1 cpuacct and memory, or
v2); where none can be made (not root), CPU is what wait4 reports for the command's children,
which misses processes reaped by others (the note says so). Then, in this process, the CPU by
phase of one cold grading through the Python API: imports, template (its own process),
reference answers (recorded, then computed), worker start and load, checks, results, page.
"""
import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import assignments, build, cgroups, verify  # noqa: E402

FLOOR = [sys.executable, "-c", "import torch, numpy, matplotlib"]
GRADESCOPE_MEMORY_MB = 768


class RunGroup:
    """A control group (v1 cpuacct+memory, or v2) for one command and everything it starts."""

    def __init__(self):
        self.dirs = []  # (dir, version, controllers)
        if os.geteuid() != 0:
            return
        mounts, own = cgroups._mounts(), cgroups._own_paths()
        by_dir = {}
        for c, (point, version) in mounts.items():
            if c in ("cpuacct", "memory") or (version == 2 and c in ("cpu", "memory")):
                by_dir.setdefault((Path(point, own.get(c if version == 1 else "", "")), version), []).append(c)
        name = f"agr-bench-{uuid.uuid4().hex[:8]}"
        for (here, version), controllers in by_dir.items():
            with contextlib.suppress(OSError):
                (here / name).mkdir()
                self.dirs.append((here / name, version, controllers))

    @property
    def measures(self) -> bool:
        kinds = {c for _, _, cs in self.dirs for c in cs}
        return ("cpuacct" in kinds or any(v == 2 for _, v, _ in self.dirs)) and "memory" in kinds

    def wrap(self, cmd):
        """``cmd`` run inside the group: a shell joins it, then execs the command."""
        if not self.dirs:
            return cmd
        joins = "; ".join(f"echo $$ > {d / 'cgroup.procs'}" for d, _, _ in self.dirs)
        return ["sh", "-c", f'{joins}; exec "$@"', "sh", *cmd]

    def cpu(self) -> float | None:
        for d, version, controllers in self.dirs:
            with contextlib.suppress(OSError):
                if version == 1 and "cpuacct" in controllers:
                    return int((d / "cpuacct.usage").read_text()) / 1e9
                if version == 2:
                    stat = dict(line.split() for line in (d / "cpu.stat").read_text().splitlines())
                    return int(stat["usage_usec"]) / 1e6
        return None

    def peak_mib(self) -> float | None:
        for d, version, controllers in self.dirs:
            if "memory" in controllers:
                with contextlib.suppress(OSError):
                    f = "memory.max_usage_in_bytes" if version == 1 else "memory.peak"
                    return int((d / f).read_text()) / 2**20
        return None

    def remove(self):
        for d, _, _ in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


def measure(cmd, env=None, cwd=None):
    """(CPU seconds of every process, wall seconds, peak MiB or None, exit status)."""
    group = RunGroup()
    try:
        start = time.monotonic()
        before = os.times()
        proc = subprocess.run(group.wrap(cmd), env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        wall = time.monotonic() - start
        after = os.times()
        cpu = group.cpu() if group.measures else None
        if cpu is None:
            cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        if proc.returncode not in (0, 1):
            print(f"  ! {' '.join(map(str, cmd[:4]))} exited {proc.returncode}: {proc.stderr[-600:]}", file=sys.stderr)
        return cpu, wall, group.peak_mib(), proc.returncode
    finally:
        group.remove()


def median_of(runs, cmd, env=None, cwd=None, before_each=None):
    got = []
    for _ in range(runs):
        if before_each:
            before_each()
        got.append(measure(cmd, env, cwd))
    cpu = statistics.median(g[0] for g in got)
    wall = statistics.median(g[1] for g in got)
    peaks = [g[2] for g in got if g[2] is not None]
    return cpu, wall, (max(peaks) if peaks else None)


def gradescope_layout(zip_path: Path, submission: Path, where: Path) -> Path:
    """/autograder as Gradescope lays it out, in ``where``: source (the zip), submission, results."""
    shutil.rmtree(where, ignore_errors=True)
    (where / "source").mkdir(parents=True)
    (where / "submission").mkdir()
    (where / "results").mkdir()
    subprocess.run([sys.executable, "-m", "zipfile", "-e", str(zip_path), str(where / "source")], check=True)
    if submission.is_dir():
        for f in submission.iterdir():
            shutil.copy(f, where / "submission" / f.name)
    else:
        shutil.copy(submission, where / "submission" / submission.name)
    metadata = {"id": 1, "assignment": {"title": zip_path.parent.name}}
    (where / "submission_metadata.json").write_text(json.dumps(metadata))
    return where


def in_gradescope_mount(where: Path, script: str) -> list[str]:
    """A command running ``script`` with ``where`` bound on /autograder, in a mount namespace of
    its own (nothing is left on the machine); needs root."""
    return ["unshare", "-m", "sh", "-c", f"mount --bind {where} /autograder && {script}"]


def score_of(results_json: Path) -> str:
    with contextlib.suppress(OSError, ValueError, KeyError):
        data = json.loads(results_json.read_text())
        return f"{data['score']:g}"
    return "?"


def phases(name: str, submission: Path) -> dict:
    """The CPU of one cold grading by phase, through the Python API in a fresh process (this
    benchmark's own ``--phases`` mode, so its imports are cold too)."""
    out = subprocess.run([sys.executable, __file__, "--phases", name, str(submission)], capture_output=True,
                         text=True, env={**os.environ, "AUTOGRADER_FORK": "0"})
    if out.returncode != 0:
        return {"error": out.stderr[-500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _proc_cpu(pid: int) -> float:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def run_phases(name: str, path: str) -> None:
    """In a fresh process: one cold grading, step by step; prints {phase: CPU seconds} as JSON."""
    def cpu():
        return time.process_time()

    got = {}
    t = first = cpu()
    import matplotlib  # noqa: F401
    import numpy  # noqa: F401
    import torch  # noqa: F401

    from autograder import grade, report, results, submission
    from autograder.checking import Reference
    got["imports (grader: torch, NumPy, matplotlib, toolkit)"] = cpu() - t
    a = assignments.get(name)
    t = cpu()
    grader = grade.Grader(a)
    got["grader start (checks, recorded answers)"] = cpu() - t
    template = grader.env.templates[()]
    template.wait_ready()
    got["template (its own process: torch, warm-up)"] = _proc_cpu(template.process.pid)
    ref_cpu = [0.0]
    compute = Reference._compute

    def timed(self, *args):  # the reference's own CPU, told apart from the checks'
        t0 = cpu()
        try:
            return compute(self, *args)
        finally:
            ref_cpu[0] += cpu() - t0
    Reference._compute = timed
    try:
        sub = submission.open_submission(path, a.submission_files, scratch=grader.env.root)
        result = results.SubmissionResult(sub.name, path)
        t = cpu()
        workers = grade.SubmissionWorkers(grader, sub, result, time.monotonic() + a.time_budget)
        worker = workers.start()
        got["worker start and load (grader side)"] = cpu() - t
        got["worker start and load (worker's CPU)"] = (worker.usage() or (0.0, 0.0))[0]
        t = cpu()
        checks = [grader._run_check(workers, c, sub) for c in a.checks]
        got["checks (grader side)"] = cpu() - t - ref_cpu[0]
        got["checks (the submission's own CPU)"] = sum(c.cpu for c in checks)
        got["reference answers computed (none when recorded)"] = ref_cpu[0]
        workers.close()
        sub.close()
        result.checks, result.graded = checks, True
        with tempfile.TemporaryDirectory() as out:
            t = cpu()
            written = results.write(result, Path(out), a.manual)
            got["results.json"] = cpu() - t
            t = cpu()
            report.write_page(written, Path(out), a)
            got["feedback page (drawn in its own process when grading)"] = cpu() - t
        got["total of the grader process"] = cpu() - first
    finally:
        Reference._compute = compute
        grader.close()
    print(json.dumps({k: round(v, 3) for k, v in got.items()}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--assignment", action="append", choices=assignments.NAMES)
    p.add_argument("--runs", type=int, default=3, help="runs per figure (the median is shown)")
    p.add_argument("--container", action="store_true", help="also in a container under Gradescope's limits "
                   "(AGR_TEST_IMAGE, DOCKER_HOST: .ci/containers.sh makes both)")
    p.add_argument("--phases", nargs=2, metavar=("NAME", "SUBMISSION"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.phases:
        return run_phases(*args.phases)
    names = args.assignment or assignments.NAMES
    root = os.geteuid() == 0
    probe = RunGroup()
    probe.remove()
    if not probe.measures:
        print("note: no control group could be made (run as root): CPU is what wait4 reports for the command's "
              "children, which misses the workers and, with the forked grader, the grader itself", file=sys.stderr)
    # `unshare -m` binds the layout on /autograder, which must exist as a folder: made here if
    # missing, and removed at the end (the bind itself ends with its namespace).
    made_mount_point = root and not Path("/autograder").exists()
    if made_mount_point:
        Path("/autograder").mkdir()
    work = Path(tempfile.mkdtemp(prefix="cold-bench-"))
    cache = work / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    floor_cpu, floor_wall, floor_peak = median_of(args.runs, FLOOR)
    print(f"floor: `import torch, numpy, matplotlib`: {floor_cpu:.2f} s CPU, {floor_wall:.2f} s wall, "
          f"{floor_peak or 0:.0f} MiB\n")
    try:
        for name in names:
            a = assignments.get(name)
            (work / name).mkdir()
            sub = verify.reference_submission(a, work / name, progress=True)
            out = work / f"{name}-out"
            grade_cmd = ["autograder", "grade", name, str(sub), "--out", str(out), "--regrade", "-q"]

            def clear_cache():
                shutil.rmtree(cache, ignore_errors=True)

            first = median_of(args.runs, [*grade_cmd, "--no-pages"], env, before_each=clear_cache)
            measure([*grade_cmd, "--no-pages"], env)  # records the answers for the runs below
            student = json.loads(next(out.rglob("results.json")).read_text())
            own = student.get("extra_data", {}).get("student_cpu_seconds", 0.0)
            score = f"{student['score']:g}"
            floor = floor_cpu + own
            figures = {
                "grade --no-pages": median_of(args.runs, [*grade_cmd, "--no-pages"], env),
                "grade (pages)": median_of(args.runs, grade_cmd, env),
                "first run (no recorded answers)": first,
                "one process (AUTOGRADER_FORK=0)": median_of(args.runs, [*grade_cmd, "--no-pages"],
                                                             {**env, "AUTOGRADER_FORK": "0"}),
            }
            zip_dir = work / f"{name}-zip"
            zip_dir.mkdir()
            zip_path = build.build_zip(a, zip_dir)
            if root and shutil.which("unshare"):
                layout = gradescope_layout(zip_path, sub, work / f"{name}-gs")
                figures["gradescope run_autograder"] = median_of(
                    args.runs, in_gradescope_mount(layout, "bash /autograder/source/run_autograder"), env)
                gs_score = score_of(layout / "results" / "results.json")
                figures["otter run (run_otter.py)"] = median_of(args.runs, in_gradescope_mount(
                    layout, f"PYTHONPATH=/autograder/source/files/dl_autograder {sys.executable} "
                    "/autograder/source/run_otter.py"), env)
                score += f", zip {gs_score}, otter {score_of(layout / 'results' / 'results.json')}"
            if args.container:
                figures["container, 0.5 CPU, 768 MB (wall)"] = container_run(zip_path, sub, work / f"{name}-ct")
            print_assignment(name, score, own, floor, figures)
            print("  phases (one cold grading in one process, CPU seconds):")
            for phase, seconds in phases(name, sub).items():
                print(f"    {phase:55s} {seconds}")
            print()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if made_mount_point:
            with contextlib.suppress(OSError):
                Path("/autograder").rmdir()


def print_assignment(name, score, own, floor, figures):
    print(f"{name} (reference: {score} points; its own CPU {own:.2f} s; floor {floor:.2f} s CPU):")
    print(f"  {'command':40s} {'CPU s':>7s} {'x floor':>8s} {'wall s':>7s} {'peak MiB':>9s}")
    for label, value in figures.items():
        if isinstance(value, dict):
            print(f"  {label:40s} {'':>7s} {'':>8s} {value['wall']:7.1f} {value['peak'] or 0:9.0f}  "
                  f"{value['note']}")
            continue
        cpu, wall, peak = value
        print(f"  {label:40s} {cpu:7.2f} {cpu / floor:8.2f} {wall:7.2f} {peak or 0:9.0f}")


def container_run(zip_path: Path, submission: Path, where: Path) -> dict:
    """The zip's run_autograder in a container of the repository's image, Gradescope's layout and
    default limits; wall seconds, the container's peak memory, and whether it was OOM-killed."""
    docker = os.environ.get("AGR_DOCKER") or shutil.which("docker")
    image = os.environ.get("AGR_TEST_IMAGE")
    if not docker or not image:
        return {"wall": 0.0, "peak": None, "note": "skipped: no container engine or AGR_TEST_IMAGE"}
    where.mkdir(parents=True, exist_ok=True)
    subs = where / "subs"
    shutil.rmtree(subs, ignore_errors=True)
    if submission.is_dir():
        shutil.copytree(submission, subs)
    else:
        subs.mkdir()
        shutil.copy(submission, subs / submission.name)
    name = "bench-" + uuid.uuid4().hex[:8]
    script = (f"set -e; mkdir -p /autograder/source /autograder/submission /autograder/results; "
              f"python3 -m zipfile -e /zips/{zip_path.name} /autograder/source; "
              f"cp -r /subs/. /autograder/submission/; "
              f"echo '{{}}' > /autograder/submission_metadata.json; "
              f"bash /autograder/source/run_autograder; cat /autograder/results/results.json > /dev/null; "
              f"cat /sys/fs/cgroup/memory.peak 2>/dev/null || cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes")
    start = time.monotonic()
    proc = subprocess.run([docker, "run", "--name", name, "--network", "none", "--memory", f"{GRADESCOPE_MEMORY_MB}m",
                           "--memory-swap", f"{GRADESCOPE_MEMORY_MB}m", "--cpus", "0.5",
                           "-v", f"{zip_path.parent}:/zips:ro", "-v", f"{subs}:/subs:ro", image, "sh", "-c", script],
                          capture_output=True, text=True)
    wall = time.monotonic() - start
    inspect = subprocess.run([docker, "inspect", "-f", "{{.State.OOMKilled}}", name], capture_output=True, text=True)
    subprocess.run([docker, "rm", "-f", name], capture_output=True)
    oom = inspect.stdout.strip() == "true"
    lines = proc.stdout.strip().splitlines()
    peak = int(lines[-1]) / 2**20 if lines and lines[-1].isdigit() else None
    note = "KILLED FOR MEMORY" if oom else ("ok" if proc.returncode == 0 else f"exit {proc.returncode}")
    return {"wall": wall, "peak": peak, "note": note}


if __name__ == "__main__":
    main()
