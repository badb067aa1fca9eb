"""Isolation that does not need root. The hostile and broken submissions (loops, exits, bombs,
tampering, leaks as root, broken files, resume) are in ``test_hostile.py``."""
import os
from pathlib import Path

import variants
from autograder import grade, sandbox

CHECKS_FILE = Path(grade.__file__).parent / "assignments" / "gradient_descent" / "checks.py"
SECRET = "grader-secret-4f1e"

LEAK_MODEL = f'''
    import os
    found = []
    for path in [{str(CHECKS_FILE)!r}, {str(variants.SOLUTION)!r}, "/proc/{os.getpid()}/environ"]:
        try:
            found.append(open(path).read()[:40])
        except OSError as e:
            found.append(type(e).__name__)
    found.append(os.environ.get("AUTOGRADER_TEST_SECRET", "no-env"))
    import socket
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=1)
        found.append("network")
    except OSError as e:
        found.append("no-network")
    raise RuntimeError("LEAKED " + " | ".join(found))
'''

HIDE_ENV_MODEL = [("model", "    return weight * data + bias\n", LEAK_MODEL)]


def test_worker_without_root_still_hides_environment(tmp_path, gd):
    """Even unisolated, the worker gets a scrubbed environment and its own empty folder."""
    src = variants.patch(variants.reference_text(), HIDE_ENV_MODEL)
    (tmp_path / "s.py").write_text(src)
    os.environ["AUTOGRADER_TEST_SECRET"] = SECRET
    try:
        with grade.Grader("gradient_descent", isolate=False) as g:
            r = g.grade(tmp_path / "s.py")
    finally:
        del os.environ["AUTOGRADER_TEST_SECRET"]
    out = next(c.output for c in r.checks if c.name == "test_model_values")
    assert "no-env" in out and SECRET not in out


def test_worker_that_stalls_before_any_cell_gets_one_more_try(tmp_path, monkeypatch):
    """A load that fails before any of the submission's cells ran is the worker's problem
    (a stalled machine), not the student's: it is retried once; a second failure is reported
    as such."""
    (tmp_path / "s.py").write_text(variants.reference_text())
    real_load, failures = sandbox.Worker.load, []

    def stalls(self, *args, **kwargs):
        if len(failures) < stalls.times:
            failures.append(1)
            raise sandbox.SandboxError("timed out after 4 s while loading the submission", kind="timeout")
        return real_load(self, *args, **kwargs)

    monkeypatch.setattr(sandbox.Worker, "load", stalls)
    with grade.Grader("gradient_descent") as g:
        stalls.times = 1
        once = g.grade(tmp_path / "s.py")
        failures.clear()
        stalls.times = 2
        twice = g.grade(tmp_path / "s.py")
    assert once.score == once.max_score and once.status == "ok" and not once.messages, once.messages
    assert twice.score == 0 and twice.status == "timeout"
    assert twice.messages == ["Loading the submission failed: timed out after 4 s while loading the "
                              "submission (before any of its cells ran)"]
