"""forked_grader.py: the grader forked from its workers' template runs the front's command with
the front's folder, environment, arguments and streams, finds torch imported (one import for
both), returns its exit status, stops when the front is stopped or killed, and the workers it
grades never see the grader's modules."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import variants
from autograder import forked_grader

TESTS = Path(__file__).resolve().parent


def test_the_forked_grader_takes_over_the_front_and_finds_torch_imported(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("AGR_FORK_MARK", "from the front")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "found.json"
    assert forked_grader.run("forked_entries:report", [str(out), "second"]) == 3
    found = json.loads(out.read_text())
    assert found["pid"] != os.getpid()
    assert found["cwd"] == str(tmp_path) and found["mark"] == "from the front"
    assert found["argv"] == [str(out), "second"]
    assert found["torch"] and found["numpy"]  # imported by the template, before the fork
    printed = capfd.readouterr()
    assert "printed by the forked grader" in printed.out and "and on its stderr" in printed.err


def test_a_grader_that_raises_exits_1_with_its_traceback(capfd):
    assert forked_grader.run("forked_entries:crash", []) == 1
    assert "RuntimeError: a grader bug" in capfd.readouterr().err


def test_one_process_when_asked(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_FORK", "0")
    assert not forked_grader.wanted()
    monkeypatch.setenv("AUTOGRADER_FORK", "1")
    assert forked_grader.wanted()


FRONT = ("import sys; sys.path.insert(0, {tests!r}); from autograder import forked_grader; "
         "sys.exit(forked_grader.run('forked_entries:wait_for_stop', [{log!r}]))")


def _wait_for(path, text, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return True
        time.sleep(0.05)
    return False


def _gone(pid, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_stopping_the_front_stops_the_grader(sig, tmp_path):
    """A signal to the front reaches the grader (SIGKILL by its lifeline, as SIGTERM); the
    grader and its template end, and the front exits 128 + the signal."""
    log = tmp_path / "log"
    front = subprocess.Popen([sys.executable, "-c", FRONT.format(tests=str(TESTS), log=str(log))],
                             env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        assert _wait_for(log, "running"), "the forked grader did not start"
        grader = int(log.read_text().split()[1])
        front.send_signal(sig)
        code = front.wait(timeout=30)
        assert _wait_for(log, "stopped by SIGTERM" if sig != signal.SIGINT else "stopped by", 15) or sig == \
            signal.SIGINT, log.read_text()
        assert _gone(grader), "the forked grader outlived the front"
        if sig != signal.SIGKILL:
            assert code == 128 + sig, code
        assert not list(tmp_path.glob("autograder-*")), "the scratch folder was left"
    finally:
        front.kill()
        front.wait()


def test_workers_of_the_forked_grader_see_none_of_its_modules(tmp_path):
    """Through the console script (a forked grader): a submission whose model looks for the
    grader's modules in its own process finds none, and earns full marks."""
    looks = ("    import sys\n"
             "    found = [m for m in sys.modules if m.startswith(('autograder', 'checks', '__reference__'))]\n"
             "    if found:\n"
             "        raise RuntimeError(f'grader modules in the worker: {found[:3]}')\n")
    text = variants.patch(variants.reference_text(), [("model", "    return weight * data + bias\n",
                                                      looks + "    return weight * data + bias\n")])
    subs = tmp_path / "subs"
    subs.mkdir()
    variants.write(subs, "looks", text)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "gradient_descent", str(subs),
                           "--out", str(out), "-q"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "AUTOGRADER_FORK": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "grading in one process" not in proc.stderr  # the forked grader graded
    result = json.loads((out / "looks" / "results.json").read_text())
    assert result["score"] == 27.0, [t["output"] for t in result["tests"] if t["score"] < t["max_score"]]


def test_a_front_without_standard_input_still_forks_its_grader(tmp_path):
    """Started with stdin closed (a cron job, some CI runners): the grader gets /dev/null."""
    examples = Path(__file__).resolve().parents[1] / "examples" / "gradient_descent" / "alice_reference.ipynb"
    out = tmp_path / "out"
    proc = subprocess.run(["sh", "-c", 'exec 0<&-; exec "$@"', "sh", sys.executable, "-m", "autograder.cli", "grade",
                           "gradient_descent", str(examples), "--out", str(out), "-q", "--no-pages"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "grading in one process" not in proc.stderr
    assert json.loads((out / "alice_reference" / "results.json").read_text())["score"] == 27.0
