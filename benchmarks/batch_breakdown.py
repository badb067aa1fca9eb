"""Where a batch's CPU goes, per submission, beside what no grader can avoid, in one run.

    python benchmarks/batch_breakdown.py [--assignment NAME] [--n 60] [--isolation MODE]

Grades N submissions (the mix `grade_batch.py` makes) one after another in this process and
prints, per submission: the CPU of the whole machine (from /proc/stat: run it on an otherwise
idle machine), of the grader (this process), of each kind of worker (its control group, as
root), of the templates, and the submissions' own CPU (what results.json records). Beside them
it prints the isolation's own floor, measured in the same run: what one fork of a process
holding what the worker template holds costs, parent and child, until the child exits. A worker
is two such forks (its keeper, PID 1 of its namespace, and the server that runs the student's
code), and a NumPy-only check needs a second worker without torch.
"""
import argparse
import collections
import gc
import os
import resource
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
from autograder import assignments, cgroups, grade, isolation  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / TICK


def process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def fork_cost(without: tuple = (), n: int = 30) -> float:
    """CPU seconds of one fork and exit of a process prepared as a worker template is (run in
    a child, so that this process stays as it is)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        from autograder.runtime import worker
        worker.prepare_process(without)
        gc.freeze()
        used = 0.0
        for _ in range(n):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.process_time()
            child = os.fork()
            if child == 0:
                os._exit(0)
            os.waitpid(child, 0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            child_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            used += time.process_time() - start + child_cpu
        os.write(w, repr(used / n).encode())
        os._exit(0)
    os.close(w)
    got = os.read(r, 100)
    os.close(r)
    os.waitpid(pid, 0)
    return float(got)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--assignment", default="gradient_descent", choices=assignments.NAMES)
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--isolation", default=None, help="an isolation mode (default: the strongest)")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp())
    subs = grade_batch.make_submissions(args.assignment, tmp, args.n)
    per_worker = collections.defaultdict(list)
    remove = cgroups.Groups.remove

    def measured_remove(self, name):  # a worker's group, read once its processes are gone
        for _ in range(100):
            try:
                if not (self.bases[0][0] / name / "cgroup.procs").read_text().strip():
                    break
            except (OSError, IndexError):
                break
            time.sleep(0.002)
        per_worker[current.get(name, "?")].append(self.cpu_seconds(name))
        return remove(self, name)

    current = {}
    cgroups.Groups.remove = measured_remove
    mode = isolation.Mode(args.isolation) if args.isolation else None
    g = grade.Grader(args.assignment, isolation=mode)
    start_worker = g.start_worker

    def named_start(sub, result, deadline=None, skip=None, without=(), budget=None):
        worker = start_worker(sub, result, deadline, skip, without, budget)
        if worker is not None and worker.dir is not None:
            current[worker.dir.name] = "worker without " + ", ".join(without) if without else "main worker"
        return worker

    g.start_worker = named_start
    try:
        for warm in subs[:2]:  # templates started, their first forks paid
            g.grade(warm)
        per_worker.clear()
        templates = [t.process.pid for t in g.env.templates.values() if t.process is not None]
        t0 = {pid: process_cpu(pid) for pid in templates}
        m0, s0, w0 = machine_cpu(), resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        own = []
        for path in subs:
            own.append(g.grade(path).cpu)
        m1, s1, w1 = machine_cpu(), resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        t1 = {pid: process_cpu(pid) for pid in templates}
        mode_name = g.env.policy.mode.value
    finally:
        g.close()
        cgroups.Groups.remove = remove
    n = len(subs)
    ms = 1000 / n
    total = (m1 - m0) * ms
    print(f"{args.assignment}: {n} submissions graded one after another, isolation {mode_name}, "
          f"{(w1 - w0) * ms:.0f} ms of wall time each")
    print(f"  CPU per submission, whole machine: {total:.1f} ms")
    print(f"    the submissions' own code:      {statistics.mean(own) * 1000:.1f} ms  (the floor)")
    print(f"    the grader (this process):       "
          f"{((s1.ru_utime + s1.ru_stime) - (s0.ru_utime + s0.ru_stime)) * ms:.1f} ms")
    print(f"    the templates (their forks):     {sum(t1[p] - t0[p] for p in templates) * ms:.1f} ms")
    for kind, cpus in sorted(per_worker.items()):
        cpus = [c for c in cpus if c is not None]
        if cpus:
            print(f"    {kind + ':':32} {sum(cpus) * ms:.1f} ms ({len(cpus)} workers, "
                  f"median {statistics.median(cpus) * 1000:.1f} ms each)")
    if not per_worker:
        print("    (workers: no control groups here; run as root to see each worker's CPU)")
    print(f"  ratio to the floor: {total / (statistics.mean(own) * 1000):.2f}x the submissions' own CPU")
    torch_fork, bare_fork = fork_cost(), fork_cost(("torch",))
    others = sum(len(v) for k, v in per_worker.items() if k != "main worker") / n
    forks = 2 * torch_fork + others * 2 * bare_fork
    own_ms = statistics.mean(own) * 1000
    print(f"  the isolation's floor, measured now: one fork and exit of a process holding what the template "
          f"holds costs {torch_fork * 1000:.1f} ms of CPU ({bare_fork * 1000:.1f} ms without torch); a worker is "
          f"two (keeper and server), and {others:.2f} workers without torch ran per submission: "
          f"{forks * 1000:.1f} ms of forks per submission, so no grader isolating each submission this way takes "
          f"less than {own_ms + forks * 1000:.1f} ms ({(own_ms + forks * 1000) / own_ms:.2f}x the submissions' own "
          f"CPU), before it loads or checks anything")


if __name__ == "__main__":
    main()
