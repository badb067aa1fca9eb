"""Stopping a batch: SIGINT (Ctrl-C), SIGTERM, SIGHUP and SIGKILL to ``autograder grade`` while
its workers run submissions that loop forever. Whatever the signal: no process of the batch
and no scratch folder is left, what finished stays on disk, and running the same command again
ends with the grades.csv of an uninterrupted run. The otter zip is stopped in test_bundle.py."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import variants
from autograder.runtime import processes

LOOP = "    while True:\n        pass\n"
LOOPING = [("model", "    return weight * data + bias\n", LOOP)]


@pytest.fixture(scope="module")
def subs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stop-subs")
    variants.write(folder, "a_reference", variants.reference_text())
    for name in ("b_loops", "c_loops", "d_loops"):
        variants.write(folder, name, variants.patch(variants.reference_text(), LOOPING))
    variants.write(folder, "e_bug", variants.bug_variant("epoch_loss_over_batch_size"))
    return folder


def command(subs, out):
    return [sys.executable, "-m", "autograder.cli", "grade", "gradient_descent", str(subs), "--out", str(out),
            "--timeout", "1", "--jobs", "2"]


def run_env(scratch):
    """The batch's scratch folders go in ``scratch``, so the test can see what is left."""
    return {**os.environ, "TMPDIR": str(scratch)}


@pytest.fixture(scope="module")
def uninterrupted(subs, tmp_path_factory):
    out, scratch = tmp_path_factory.mktemp("stop-clean"), tmp_path_factory.mktemp("stop-clean-tmp")
    proc = subprocess.run(command(subs, out), env=run_env(scratch), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return (out / "grades.csv").read_text()


def batch_processes(scratch):
    """Processes of the batch: the template and the workers forked from it carry the batch's
    scratch folder on their command line."""
    found = []
    for pid in processes.table():
        try:
            if str(scratch).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


def leftovers(scratch):
    procs = processes.table()
    running = [p for p in batch_processes(scratch) if p in procs and procs[p][2] not in "ZX"]
    return running, sorted(p.name for p in scratch.glob("autograder-*"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
                         ids=lambda s: signal.Signals(s).name)
def test_stopping_a_batch_leaves_nothing_and_the_same_command_finishes_it(sig, subs, uninterrupted, tmp_path):
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    scratch.mkdir()
    proc = subprocess.Popen(command(subs, out), env=run_env(scratch), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120  # until a looping submission runs beside the others
        while time.monotonic() < deadline and proc.poll() is None and not (
                list(out.glob("*/results.json")) and len(batch_processes(scratch)) >= 5):
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        sent = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        seconds = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 128 + sig
        assert "Traceback" not in err, err
        last = err.strip().splitlines()[-1]
        assert (last.startswith(f"autograder: stopped by {signal.Signals(sig).name}: ")
                and " of 5 submission(s) " in last)
        assert "run the same command again" in last
        assert seconds < 2.0, seconds  # the bound; about 0.1 s idle
    deadline = time.monotonic() + 10  # a killed grader's workers and template notice by themselves
    while time.monotonic() < deadline and leftovers(scratch) != ([], []):
        time.sleep(0.05)
    assert leftovers(scratch) == ([], [])
    assert not (out / "grades.csv").exists()
    finished = list(out.glob("*/results.json"))
    assert 1 <= len(finished) < 5
    for path in finished:  # whole, never half-written
        json.loads(path.read_text())
    again = subprocess.run(command(subs, out), env=run_env(scratch), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"Resuming: {len(finished)} of 5" in again.stderr
    assert (out / "grades.csv").read_text() == uninterrupted
    assert leftovers(scratch) == ([], [])
