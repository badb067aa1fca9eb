"""How fast a stopped batch ends: SIGINT, SIGTERM, SIGHUP and SIGKILL to `autograder grade`
while its workers run submissions that loop forever (tests/test_stop.py's batch).

    python benchmarks/stop_latency.py [--rounds 3] [--hogs 2]

For each signal and round: seconds from the signal to the grader's exit, and to the moment
no process of the batch and no scratch folder is left (a killed grader's workers and template
notice by themselves). ``--hogs N`` runs N CPU-bound processes beside it, each in a session
of its own, as on a busy shared machine.
"""
import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import test_stop as ts  # noqa: E402  (the batch, exactly as the tests build it)


class Subs:  # what the fixture would get from pytest
    def __init__(self):
        self.root = Path(tempfile.mkdtemp())

    def mktemp(self, name):
        return Path(tempfile.mkdtemp(prefix=name, dir=self.root))


def one_stop(subs, sig):
    work = Path(tempfile.mkdtemp())
    out, scratch = work / "out", work / "scratch"
    scratch.mkdir()
    proc = subprocess.Popen(ts.command(subs, out), env=ts.run_env(scratch), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
    while proc.poll() is None and not (list(out.glob("*/results.json")) and len(ts.batch_processes(scratch)) >= 5):
        time.sleep(0.02)
    sent = time.monotonic()
    proc.send_signal(sig)
    proc.wait()
    exited = time.monotonic() - sent
    while ts.leftovers(scratch) != ([], []):
        time.sleep(0.01)
    return exited, time.monotonic() - sent, proc.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hogs", type=int, default=0)
    args = parser.parse_args()
    subs = ts.subs.__wrapped__(Subs())
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(args.hogs)]
    try:
        print(f"{args.hogs} CPU hog(s) beside the grader; {args.rounds} round(s) per signal\n")
        print("| signal | exit code | to exit (median, max) | until nothing is left (median, max) |")
        print("| --- | --- | --- | --- |")
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL):
            runs = [one_stop(subs, sig) for _ in range(args.rounds)]
            exits, gone, codes = zip(*runs)
            print(f"| {signal.Signals(sig).name} | {sorted(set(codes))} | {statistics.median(exits):.2f} s, "
                  f"{max(exits):.2f} s | {statistics.median(gone):.2f} s, {max(gone):.2f} s |", flush=True)
    finally:
        for h in hogs:
            h.kill()


if __name__ == "__main__":
    main()
