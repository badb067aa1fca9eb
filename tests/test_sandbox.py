"""Isolation without root, load retries, and what is hidden from workers. The hostile and broken submissions (loops, exits, bombs,
tampering, leaks as root, broken files, resume) are in ``test_hostile.py``."""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

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


def test_history_of_a_worktree_or_submodule_is_hidden_too(tmp_path, monkeypatch):
    """There ".git" is a file naming the folder that holds the history (and, for a worktree,
    the main repository's .git); all of them are hidden."""
    main_git = tmp_path / "main" / ".git"
    (main_git / "worktrees" / "wt").mkdir(parents=True)
    (main_git / "worktrees" / "wt" / "commondir").write_text("../..\n")
    repo = tmp_path / "wt"
    repo.mkdir()
    (repo / ".git").write_text(f"gitdir: {main_git / 'worktrees' / 'wt'}\n")
    monkeypatch.setattr(grade.assignments, "REPO", repo)
    paths = grade.hidden_paths()
    assert repo / ".git" in paths and main_git / "worktrees" / "wt" in paths and main_git in paths


@pytest.mark.skipif(not sandbox.can_isolate(), reason="needs root: see README, Security")
def test_hidden_file_reads_empty_and_hidden_folder_cannot_be_listed(tmp_path):
    base = Path(tempfile.mkdtemp())  # pytest's tmp_path is not traversable by other users
    try:
        os.chmod(base, 0o755)
        (base / "secrets").mkdir(mode=0o755)
        for name in ("visible.txt", "secret.txt", "secrets/a.txt"):
            (base / name).write_text("grader-secret")
            os.chmod(base / name, 0o644)
        (tmp_path / "s.py").write_text(
            "import os\ndef f(base):\n    out = [open(base + '/visible.txt').read(), open(base + '/secret.txt').read()]\n"
            "    try:\n        out.append(str(os.listdir(base + '/secrets')))\n"
            "    except OSError as e:\n        out.append(type(e).__name__)\n    return out\n")
        env = sandbox.Environment.create(hide=[base / "secret.txt", base / "secrets"])
        try:
            w = sandbox.Worker(tmp_path / "s.py", env, sandbox.Limits(call_timeout=10)).start()
            w.load()
            reply = sandbox.Session(w).call("f", str(base))
            w.close()
        finally:
            env.close()
    finally:
        shutil.rmtree(base)
    assert sandbox.codec.from_plain(reply.get("value")) == ["grader-secret", "", "PermissionError"], reply
