"""Student code is isolated: a hang or crash costs only the checks that needed it, and the
worker cannot read the checks, the references or the grader's environment."""
import os
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

HOSTILE = {
    "loop_in_model": [("model", "    return weight * data + bias\n", "    while True:\n        pass\n")],
    "exit_in_loss": [("loss_func", "    return torch.mean((y_pred - y_true) ** 2)\n",
                      "    import os\n    os._exit(0)\n")],
    "sys_exit_in_fit_numpy": [("fit_numpy", "    n, d = X.shape\n", "    import sys\n    sys.exit(0)\n")],
    "reads_secrets": [("model", "    return weight * data + bias\n", LEAK_MODEL)],
    "memory_bomb": [("model", "    return weight * data + bias\n",
                     "    hog = np.ones(int(4e9))  # 32 GB\n    return weight * data + bias + hog[0]\n")],
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, gd):
    subs = tmp_path_factory.mktemp("hostile")
    for name, edits in HOSTILE.items():
        variants.write(subs, name, variants.patch(variants.reference_text(), edits))
    # A top-level value that a graded function reads is kept by definitions-only loading.
    variants.write(subs, "exit_while_loading", variants.reference_text().replace(
        "def model(data, weight, bias):", "import os\nSCALE = os._exit(3)\n\n\ndef model(data, weight, bias):\n"
        "    SCALE", 1))
    (subs / "not_a_notebook.ipynb").write_text("{ this is not json")
    os.environ["AUTOGRADER_TEST_SECRET"] = SECRET
    try:
        limits = sandbox.Limits(call_timeout=3)
        results = grade.grade_all("gradient_descent", [subs], tmp_path_factory.mktemp("out"), limits=limits,
                                  progress=False)
    finally:
        del os.environ["AUTOGRADER_TEST_SECRET"]
    return {r.submission: r for r in results}


def by_function(result):
    out = {}
    for c in result.checks:
        out.setdefault(c.function, []).append(c)
    return out


def test_infinite_loop_costs_only_its_checks(hostile, gd):
    r = hostile["loop_in_model"]
    assert r.status == "timeout"
    for c in by_function(r)["model"]:
        assert c.score == 0 and c.status == "timeout" and "timed out after 3 s" in c.output
    assert r.score == gd.total - 2  # every other task still earns its points


def test_os_exit_in_a_function_costs_only_its_checks(hostile, gd):
    r = hostile["exit_in_loss"]
    for c in by_function(r)["loss_func"]:
        assert c.score == 0 and "process ended in" in c.output, c.output
    assert r.score == gd.total - 2


def test_sys_exit_is_reported(hostile, gd):
    r = hostile["sys_exit_in_fit_numpy"]
    assert any("called sys.exit(0)" in c.output for c in by_function(r)["fit_numpy"])
    assert r.score == gd.total - 5


def test_memory_bomb_fails_its_checks_only(hostile, gd):
    r = hostile["memory_bomb"]
    for c in by_function(r)["model"]:
        assert c.score == 0 and "MemoryError" in c.output, c.output
    assert r.score == gd.total - 2


def test_crash_while_loading_scores_zero_with_a_message(hostile):
    r = hostile["exit_while_loading"]
    assert r.status == "error" and r.score == 0
    assert "process ended" in r.messages[0] and all(c.output for c in r.checks)


def test_unreadable_notebook_is_an_error_not_a_crash(hostile):
    r = hostile["not_a_notebook"]
    assert r.status == "error" and r.score == 0 and "not valid JSON" in r.messages[0]


@pytest.mark.skipif(not sandbox.can_isolate(), reason="isolation needs root (see README, Security)")
def test_worker_cannot_read_checks_references_environment_or_network(hostile):
    out = next(c.output for c in hostile["reads_secrets"].checks if c.name == "test_model_values")
    assert "LEAKED" in out
    leaked = out.split("LEAKED ", 1)[1].split("\n")[0].split(" | ")
    assert leaked[:2] == ["PermissionError"] * 2, leaked
    assert leaked[2] in ("PermissionError", "FileNotFoundError"), leaked  # its own PID namespace hides the grader
    assert leaked[3] == "no-env" and leaked[4] == "no-network"
    assert SECRET not in out and "Registry" not in out


def test_worker_without_root_still_hides_environment(tmp_path, gd):
    """Even unisolated, the worker gets a scrubbed environment and its own empty folder."""
    src = variants.patch(variants.reference_text(), HOSTILE["reads_secrets"])
    (tmp_path / "s.py").write_text(src)
    os.environ["AUTOGRADER_TEST_SECRET"] = SECRET
    try:
        with grade.Grader("gradient_descent", isolate=False) as g:
            r = g.grade(tmp_path / "s.py")
    finally:
        del os.environ["AUTOGRADER_TEST_SECRET"]
    out = next(c.output for c in r.checks if c.name == "test_model_values")
    assert "no-env" in out and SECRET not in out


def test_missing_function_and_non_callable_name_are_explained(tmp_path, gd):
    text = variants.reference_text()
    start, end = variants.function_span(text, "fit_numpy")
    text = text[:start] + "fit_numpy = 3\n\n\n" + text[end:]
    start, end = variants.function_span(text, "loss_func")
    (tmp_path / "s.py").write_text(text[:start] + text[end:])
    with grade.Grader(gd) as g:
        r = g.grade(tmp_path / "s.py")
    funcs = by_function(r)
    assert all(c.output == "the submission does not define loss_func" for c in funcs["loss_func"])
    assert all(c.output == "fit_numpy is a int, not a function" for c in funcs["fit_numpy"])
    assert r.score == gd.total - 7
