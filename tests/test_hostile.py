"""Hostile and broken submissions: the grader holds, loses nothing and leaks nothing.

Every case below is one submission in a single batch, beside an untouched reference, graded
once through ``autograder grade`` (the CLI, in this process) with a 2 s call timeout. Each
test then reads what the grader wrote (results.json, grades.csv) and states what the case
must cost: most cases are planted in ``model`` (task 1.1: two checks, 2 points), so the case
must lose exactly those 2 points, with a message saying what happened, and every other check
must score as it does for the reference. Kill-and-resume runs a batch of its own.
"""
import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

import variants
from autograder import cli, grade, submission
from autograder.results import atomic_write
from conftest import isolated_modes

REF = variants.reference_text()
MODEL_BODY = "    return weight * data + bias\n"
SECRET = "grader-secret-9d2c"
HIDDEN_CHECK = "test_fit_GD_hidden_trajectory"
SLEEP_MARK = "4321.5"  # argument of a background `sleep` that must not outlive grading
CALL_TIMEOUT = 2
LEFTOVER = f"agr-leftover-{os.getpid()}"  # a file a submission leaves in shared scratch folders
HOME_FILE = Path.home() / f".agr-hostile-{os.getpid()}"  # the grader's own file, holding SECRET
PWNED = Path.home() / f"PWNED_BY_STUDENT_{os.getpid()}"  # what a submission tries to create there
ISOLATED = pytest.mark.skipif(not isolated_modes(), reason="needs root or user namespaces: see README, Security")


def in_model(code):
    """The reference with ``model``'s body replaced by ``code``."""
    return variants.patch(REF, [("model", MODEL_BODY, textwrap.indent(textwrap.dedent(code), "    "))])


def at_load(code):
    """The reference as a notebook with a cell, before model's, that runs ``code`` (inside a
    function called at top level) to set a value model reads: definitions-only loading runs
    it, so it runs while the submission loads."""
    setup = ("# %%\ndef _setup():\n" + textwrap.indent(textwrap.dedent(code), "    ")
             + "    return 1\n\n\nSCALE = _setup()\n\n\n")
    text = in_model("return weight * data + bias * SCALE\n")
    i = text.index("def model(")
    i = text.rindex("# %%", 0, i)
    return text[:i] + setup + text[i:]


FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
WRITES = """
import os, numpy
found = []
for path in [{targets}, numpy.__file__]:
    try:
        with open(path, "a") as f:
            f.write("tampered")
        found.append("WROTE " + path)
    except OSError as e:
        found.append(type(e).__name__)
raise RuntimeError("WRITES " + " | ".join(found))
"""
READS = """
import gc, os
found = []
for path in [{checks!r}, {solution!r}, {home!r}, "/proc/{pid}/environ", "/proc/{pid}/mem"]:
    try:
        with open(path, "rb") as f:
            f.read(64)
        found.append("READ " + path)
    except OSError as e:
        found.append(type(e).__name__)
for pid in os.listdir("/proc"):
    try:
        if {secret!r}.encode() in open(f"/proc/{{pid}}/environ", "rb").read():
            found.append("SECRET in " + pid)
    except OSError:
        pass
found.append("env:" + os.environ.get("AUTOGRADER_TEST_SECRET", "none"))
found.append("memory:" + str(any({hidden!r} in o for o in gc.get_objects() if isinstance(o, str))))
import socket
try:
    socket.create_connection(("127.0.0.1", 22), timeout=1)
    found.append("network")
except OSError:
    found.append("no-network")
raise RuntimeError("READS " + " | ".join(found))
"""


def cases(out, grader_pid):
    """name -> (file name, content). ``out`` is the output folder the grader writes to."""
    checks_file = Path(grade.__file__).parent / "assignments" / "gradient_descent" / "checks.py"
    targets = ", ".join(repr(str(p)) for p in (out / "reference" / "results.json", out / "grades.csv",
                                                 Path(grade.__file__), checks_file, PWNED))
    c = {
        # infinite loops
        "loop_at_top_level_unused": ("py", REF + "\nwhile True:\n    pass\n"),
        "loop_at_load": ("ipynb", at_load("while True:\n    pass\n")),
        "loop_in_function": ("py", in_model("while True:\n    pass\n")),
        "loop_in_finally": ("py", in_model("try:\n    return weight * data + bias\n"
                                           "finally:\n    while True:\n        pass\n")),
        "loop_in_atexit": ("py", in_model("import atexit\natexit.register(lambda: [0 for _ in iter(int, 1)])\n"
                                          + MODEL_BODY[4:])),
        "sigterm_ignored_and_loop": ("py", in_model("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                                    "while True:\n    pass\n")),
        # exits
        "exits_at_top_level_unused": ("py", REF + "\nimport os, sys\nsys.exit(0)\nos._exit(0)\n"),
        "sys_exit_at_load": ("ipynb", at_load("import sys\nsys.exit(0)\n")),
        "os_exit_at_load": ("ipynb", at_load("import os\nos._exit(0)\n")),
        "system_exit_at_load": ("ipynb", at_load("raise SystemExit\n")),
        "keyboard_interrupt_at_load": ("ipynb", at_load("raise KeyboardInterrupt\n")),
        "kill_9_at_load": ("ipynb", at_load("import os\nos.kill(os.getpid(), 9)\n")),
        "sys_exit_in_function": ("py", in_model("import sys\nsys.exit(0)\n")),
        "os_exit_in_function": ("py", in_model("import os\nos._exit(0)\n")),
        "system_exit_in_function": ("py", in_model("raise SystemExit\n")),
        "keyboard_interrupt_in_function": ("py", in_model("raise KeyboardInterrupt\n")),
        "kill_9_in_function": ("py", in_model("import os\nos.kill(os.getpid(), 9)\n")),
        # resources
        "memory_bomb": ("py", in_model("hog = bytearray(40 << 30)\n" + MODEL_BODY[4:])),
        "unbounded_recursion": ("py", in_model("return model(data, weight, bias)\n")),
        "c_stack_overflow": ("py", in_model("import sys\nsys.setrecursionlimit(10 ** 8)\n"
                                            "f = lambda n: list(map(f, [n]))\nf(0)\n")),
        "fork_bomb": ("py", in_model(FORK_BOMB)),
        "background_child": ("py", in_model(f"import subprocess\nsubprocess.Popen(['sleep', '{SLEEP_MARK}'], "
                                            "start_new_session=True)\n" + MODEL_BODY[4:])),
        "leaves_scratch_files": ("py", in_model(
            f"for d in ('/tmp', '/dev/shm', '/var/tmp'):\n"
            f"    with open(d + '/{LEFTOVER}', 'w') as f:\n        f.write('x' * 1000)\n" + MODEL_BODY[4:])),
        "prints_1_gb": ("py", in_model("for _ in range(1024):\n    print('x' * (1 << 20))\n" + MODEL_BODY[4:])),
        # tampering
        "patches_libraries": ("py", in_model(
            "import builtins, numpy, torch\nnumpy.allclose = torch.allclose = lambda *a, **k: True\n"
            "torch.testing.assert_close = numpy.testing.assert_allclose = lambda *a, **k: None\n"
            "builtins.AssertionError = Exception\nreturn weight * data\n")),
        "patches_toolkit": ("py", in_model(
            "import sys\nfor name, mod in list(sys.modules.items()):\n"
            "    if name.startswith('agr_runtime') and hasattr(mod, 'to_plain'):\n"
            "        mod.to_plain = lambda value, *a, **k: {'__cheat__': True}\nreturn weight * data\n")),
        "always_equal_object": ("py", in_model(
            "class Yes:\n    __eq__ = __lt__ = __le__ = __gt__ = __ge__ = lambda self, other: True\n"
            "    __float__ = lambda self: 0.0\nreturn Yes()\n")),
        "tensor_subclass_always_equal": ("py", in_model(
            "class T(torch.Tensor):\n    def __eq__(self, other):\n        return True\n"
            "    __lt__ = __le__ = __gt__ = __ge__ = __eq__\n"
            "return torch.zeros_like(weight * data).as_subclass(T)\n")),
        "ndarray_subclass_always_equal": ("py", in_model(
            "class A(np.ndarray):\n    def __eq__(self, other):\n        return np.ones(self.shape, bool)\n"
            "    __lt__ = __le__ = __gt__ = __ge__ = __eq__\n"
            "return np.zeros(tuple(data.shape)).view(A)\n")),
        "nan": ("py", in_model("return (weight * data + bias) * float('nan')\n")),
        "inf": ("py", in_model("return (weight * data + bias) * float('inf')\n")),
        "float16": ("py", in_model("return (weight * data + bias).half()\n")),
        "requires_grad_leaf": ("py", in_model("return (weight * data + bias).detach().requires_grad_()\n")),
        "generator": ("py", in_model("return (v for v in weight * data + bias)\n")),
        "writes_results_and_toolkit": ("py", in_model(WRITES.format(targets=targets))),
        "reads_secrets": ("py", in_model(READS.format(checks=str(checks_file), solution=str(variants.SOLUTION),
                                                      home=str(HOME_FILE), pid=grader_pid, secret=SECRET,
                                                      hidden=HIDDEN_CHECK))),
        # broken input
        "invalid_json": ("ipynb", "{ this is not json"),
        "no_cells": ("ipynb", json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})),
        "binary_py": ("py", bytes(range(256)) * 64),
        "syntax_error": ("ipynb", variants.patch(REF, [("model", "def model(data, weight, bias):",
                                                        "def model(data, weight, bias:")])),
        "non_utf8": ("py", REF.encode() + "\n# caf\u00e9 in latin-1\n".encode("latin-1")),
        "wrong_signature": ("py", variants.patch(REF, [("model", "def model(data, weight, bias):",
                                                        "def model(data, weight):")])),
        "non_callable": ("py", REF + "\nmodel = 3\n"),
    }
    start, end = variants.function_span(REF, "model")
    c["missing_function"] = ("py", REF[:start] + REF[end:])
    return c


def write_case(folder, name, suffix, content):
    path = folder / f"{name}.{suffix}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif suffix == "ipynb" and content.startswith("# %%"):
        variants.as_notebook(content, path)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def zip_with(path, name, data=b"x = 1\n", link=False):
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(name)
        if link:
            info.external_attr = 0o120777 << 16  # a symbolic link
        zf.writestr(info, data)
    return path


def sleepers():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if SLEEP_MARK.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


def write_batch(subs, out):
    """Every case (and the reference) as a submission in ``subs``, to be graded into ``out``."""
    variants.write(subs, "reference", REF)
    for name, (suffix, content) in cases(out, os.getpid()).items():
        write_case(subs, name, suffix, content)
    (subs / "huge.py").write_bytes(REF.encode() + b"#" * (100 << 20))
    zip_with(subs / "zip_dotdot.zip", "../escaped.py")
    zip_with(subs / "zip_absolute.zip", "/tmp/escaped-absolute.py")
    zip_with(subs / "zip_symlink.zip", "link.py", b"/etc/passwd", link=True)


def grade_batch(subs, out):
    """``autograder grade`` on the batch, with the secret a submission tries to read set in
    the environment and in a file in the grader's home directory. Exits 1: some submissions
    cannot be graded (unreadable files, unsafe zips)."""
    os.environ["AUTOGRADER_TEST_SECRET"] = SECRET
    HOME_FILE.write_text(SECRET)
    try:
        return cli.main(["grade", "gradient_descent", str(subs), "--out", str(out), "--timeout", str(CALL_TIMEOUT),
                         "--load-timeout", "4", "-q"])
    finally:
        del os.environ["AUTOGRADER_TEST_SECRET"]
        HOME_FILE.unlink()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    subs, out = tmp_path_factory.mktemp("hostile"), tmp_path_factory.mktemp("hostile-out")
    write_batch(subs, out)
    start = time.monotonic()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = grade_batch(subs, out)
    seconds = time.monotonic() - start
    names = sorted(submission.name_of(p) for p in subs.iterdir())
    return {"out": out, "subs": subs, "names": names, "seconds": seconds, "code": code, "stderr": err.getvalue()}


def results(batch, name):
    return json.loads((batch["out"] / name / "results.json").read_text())


def checks_of(batch, name, check_prefix=""):
    return {t["name"].split(": ")[1]: t for t in results(batch, name)["tests"]}


def model_tests(batch, name):
    return [t for t in results(batch, name)["tests"] if "(model)" in t["name"]]


def gradebook(batch):
    return {r["submission"]: r for r in csv.DictReader(open(batch["out"] / "grades.csv"))}


def reference_scores(batch):
    return {k: t["score"] for k, t in checks_of(batch, "reference").items()}


def assert_costs_only_model(batch, name, *phrases):
    """Model's two checks score 0 with a message (each phrase in at least one of them); every
    other check scores what it scores for the reference."""
    ref = reference_scores(batch)
    got = checks_of(batch, name)
    model = [t for t in got.values() if "model" in t["tags"]]
    for t in model:
        assert t["score"] == 0 and t["output"] and t["output"] != "Passed.", (name, t["name"], t["output"])
    for phrase in phrases:
        assert any(phrase in t["output"] for t in model), (name, phrase, [t["output"] for t in model])
    for check, t in got.items():
        if "model" not in t["tags"]:
            assert t["score"] == ref[check], (name, check, t["output"])
    assert results(batch, name)["score"] == sum(ref.values()) - 2


def assert_full_marks(batch, name):
    assert results(batch, name)["score"] == sum(reference_scores(batch).values()), \
        [t["output"] for t in results(batch, name)["tests"] if t["score"] < t["max_score"]]


# -- the batch as a whole ------------------------------------------------------------------------

def test_batch_exits_1_and_names_each_submission_it_could_not_grade(batch):
    """Exit status 1; every submission that could not be graded is listed on the terminal
    with the words its results.json gives."""
    assert batch["code"] == 1
    listed = batch["stderr"].split("Could not be graded", 1)[1]
    for name in batch["names"]:
        r = results(batch, name)
        if not r["extra_data"]["graded"]:
            assert f"  {name}: {r['output'].splitlines()[0]}" in listed, name
        else:
            assert f"  {name}: " not in listed, name
    for name in ("invalid_json", "binary_py", "huge", "zip_dotdot"):
        assert f"  {name}: " in listed


def test_every_submission_has_its_row_and_results(batch):
    rows = gradebook(batch)
    assert sorted(rows) == batch["names"]
    for name in batch["names"]:
        json.loads((batch["out"] / name / "results.json").read_text())
    assert float(rows["reference"]["score"]) == 27.0


def test_batch_stays_within_time_bounds(batch):
    """Every submission finished within its time budget; the batch as a whole (about 50
    submissions, a dozen of which hang) took minutes, not hours."""
    for name in batch["names"]:
        assert results(batch, name)["execution_time"] < 55, name
    assert batch["seconds"] < 240


def test_students_never_see_hidden_checks(batch):
    from autograder import assignments
    hidden = [c for c in assignments.get("gradient_descent").checks if c.hidden]
    for name in batch["names"]:
        r = results(batch, name)
        shown = r["output"] + "".join(t["name"] + t["output"] for t in r["tests"] if t["visibility"] == "visible")
        for c in hidden:
            assert c.name not in shown and (not c.doc or c.doc not in shown), (name, c.name)
        assert all(t["visibility"] == "after_published" for t in r["tests"] if any(c.name in t["name"] for c in hidden))


# -- infinite loops ------------------------------------------------------------------------------

def test_loop_at_top_level_that_no_function_needs_never_runs(batch):
    assert_full_marks(batch, "loop_at_top_level_unused")


def test_loop_while_loading_skips_that_cell(batch):
    r = results(batch, "loop_at_load")
    assert r["extra_data"]["status"] == "timeout"
    assert "ran past the load time limit" in r["output"] and "it was skipped" in r["output"]
    assert_costs_only_model(batch, "loop_at_load", "SCALE")


@pytest.mark.parametrize("name", ["loop_in_function", "loop_in_finally", "sigterm_ignored_and_loop"])
def test_loop_in_a_graded_function_times_out_its_checks(batch, name):
    assert results(batch, name)["extra_data"]["status"] == "timeout"
    assert_costs_only_model(batch, name, f"timed out after {CALL_TIMEOUT} s")


def test_atexit_handler_never_runs(batch):
    assert_full_marks(batch, "loop_in_atexit")


# -- exits ---------------------------------------------------------------------------------------

def test_exits_at_top_level_that_no_function_needs_never_run(batch):
    assert_full_marks(batch, "exits_at_top_level_unused")


@pytest.mark.parametrize("name, phrase", [("sys_exit_at_load", "called sys.exit(0)"),
                                          ("system_exit_at_load", "called sys.exit(None)"),
                                          ("keyboard_interrupt_at_load", "raised KeyboardInterrupt")])
def test_exit_exceptions_while_loading_cost_their_cell(batch, name, phrase):
    assert phrase in results(batch, name)["output"]
    assert_costs_only_model(batch, name, "SCALE")


@pytest.mark.parametrize("name", ["os_exit_at_load", "kill_9_at_load"])
def test_process_death_while_loading_skips_that_cell(batch, name):
    r = results(batch, name)
    assert r["extra_data"]["status"] == "error"
    assert "ended the process" in r["output"] and "it was skipped" in r["output"]
    assert_costs_only_model(batch, name, "SCALE")


@pytest.mark.parametrize("name, phrase", [("sys_exit_in_function", "called sys.exit(0)"),
                                          ("system_exit_in_function", "called sys.exit(None)"),
                                          ("keyboard_interrupt_in_function", "raised KeyboardInterrupt"),
                                          ("os_exit_in_function", "process ended in"),
                                          ("kill_9_in_function", "process ended in")])
def test_exit_in_a_graded_function_costs_its_checks(batch, name, phrase):
    assert_costs_only_model(batch, name, phrase)


# -- resources -----------------------------------------------------------------------------------

def test_memory_bomb(batch):
    assert_costs_only_model(batch, "memory_bomb", "MemoryError")


def test_unbounded_recursion(batch):
    assert_costs_only_model(batch, "unbounded_recursion", "RecursionError")


def test_c_stack_overflow_crashes_only_its_checks(batch):
    assert_costs_only_model(batch, "c_stack_overflow", "process ended in")


def test_fork_bomb(batch):
    assert_costs_only_model(batch, "fork_bomb")


@ISOLATED
def test_background_child_does_not_outlive_grading(batch):
    assert_full_marks(batch, "background_child")
    assert sleepers() == []


@ISOLATED
def test_files_left_in_scratch_folders_are_gone_after_grading(batch):
    """/dev/shm and /var/tmp are private to the worker; what it leaves in /tmp is deleted."""
    assert_full_marks(batch, "leaves_scratch_files")
    assert [d for d in ("/tmp", "/dev/shm", "/var/tmp") if os.path.exists(f"{d}/{LEFTOVER}")] == []


def test_printing_a_gigabyte_is_capped_not_fatal(batch):
    assert_full_marks(batch, "prints_1_gb")
    assert results(batch, "prints_1_gb")["execution_time"] < 30


# -- tampering -----------------------------------------------------------------------------------

def test_patching_libraries_in_the_worker_does_not_change_verdicts(batch):
    assert_costs_only_model(batch, "patches_libraries", "Greatest absolute difference")


def test_patching_the_toolkit_in_the_worker_only_hurts_the_submission(batch):
    r = results(batch, "patches_toolkit")
    assert all(t["score"] == 0 for t in model_tests(batch, "patches_toolkit"))
    assert r["score"] <= results(batch, "reference")["score"] - 2
    assert r["extra_data"]["status"] in ("ok", "error")


@pytest.mark.parametrize("name, phrase", [("always_equal_object", "Yes"),
                                          ("tensor_subclass_always_equal", "Greatest absolute difference"),
                                          ("ndarray_subclass_always_equal", "expected torch.Tensor, got np.ndarray"),
                                          ("nan", "non-finite"), ("inf", "-inf"),
                                          ("generator", "returned a generator")])
def test_values_that_lie_or_are_not_numbers_fail(batch, name, phrase):
    assert_costs_only_model(batch, name, phrase)


def test_float16_is_graded_by_value(batch):
    """Half precision holds these values exactly: within tolerance, so graded like float32."""
    assert_full_marks(batch, "float16")


def test_tensor_that_requires_grad_is_graded_by_value(batch):
    """A detached leaf that requires grad has the right values (the value check passes) but
    no gradient reaches weight and bias (the gradient check catches that)."""
    got = checks_of(batch, "requires_grad_leaf")
    assert got["test_model_values"]["score"] == 1
    assert got["test_model_gradients"]["score"] == 0
    assert "not differentiable" in got["test_model_gradients"]["output"]


@ISOLATED
def test_cannot_write_results_gradebook_toolkit_or_home(batch):
    out = next(t["output"] for t in model_tests(batch, "writes_results_and_toolkit"))
    found = out.split("WRITES ", 1)[1].split("\n")[0].split(" | ")
    assert len(found) == 6 and not any(f.startswith("WROTE") for f in found), found
    assert not PWNED.exists()
    assert "tampered" not in (batch["out"] / "reference" / "results.json").read_text()
    assert "tampered" not in Path(grade.__file__).read_text()


@ISOLATED
def test_cannot_read_checks_references_home_environment_memory_or_network(batch):
    out = next(t["output"] for t in model_tests(batch, "reads_secrets"))
    found = out.split("READS ", 1)[1].split("\n")[0].split(" | ")
    assert not any(f.startswith(("READ ", "SECRET")) for f in found), found
    assert found[-3:] == ["env:none", "memory:False", "no-network"], found
    assert SECRET not in json.dumps(results(batch, "reads_secrets"))


# -- broken input --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, phrase", [("invalid_json", "not valid JSON"), ("binary_py", "binary"),
                                          ("huge", "files over 32 MiB are not graded"),
                                          ("zip_dotdot", "points outside"), ("zip_absolute", "points outside"),
                                          ("zip_symlink", "is a link")])
def test_unreadable_submission_scores_zero_with_a_message(batch, name, phrase):
    r = results(batch, name)
    assert r["score"] == 0 and r["extra_data"]["status"] == "error" and phrase in r["output"], r["output"]
    assert all(t["output"] for t in r["tests"])
    assert not Path("/tmp/escaped-absolute.py").exists() and not (batch["subs"].parent / "escaped.py").exists()


def test_notebook_without_cells_scores_zero(batch):
    r = results(batch, "no_cells")
    assert r["score"] == 0
    assert any("does not define model" in t["output"] for t in r["tests"])


def test_syntax_error_costs_the_cell_it_is_in(batch):
    assert "does not parse" in results(batch, "syntax_error")["output"]
    assert_costs_only_model(batch, "syntax_error", "does not define model")


def test_non_utf8_bytes_are_replaced_not_fatal(batch):
    assert_full_marks(batch, "non_utf8")


def test_missing_wrong_signature_and_non_callable(batch):
    assert_costs_only_model(batch, "missing_function", "the submission does not define model")
    assert_costs_only_model(batch, "wrong_signature", "takes 2 positional arguments but 3 were given")
    assert_costs_only_model(batch, "non_callable", "model is an int, not a function")


# -- batch robustness ----------------------------------------------------------------------------

def test_killed_batch_resumes_and_ends_with_the_same_gradebook(tmp_path):
    subs, out, clean = tmp_path / "subs", tmp_path / "out", tmp_path / "clean"
    subs.mkdir()
    variants.write(subs, "a_reference", REF)
    for i, bug in enumerate(list(variants.BUGS)[:5]):
        variants.write(subs, f"b{i}_{bug}", variants.bug_variant(bug))
    cmd = [sys.executable, "-m", "autograder.cli", "grade", "gradient_descent", str(subs), "--out", str(out),
           "--jobs", "1"]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*/results.json"))) < 2 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    written = list(out.glob("*/results.json"))
    assert 2 <= len(written) < 6 and not (out / "grades.csv").exists()
    for path in written:  # atomic writes: whatever is there is whole
        json.loads(path.read_text())
    second = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert f"Resuming: {len(written)} of 6" in second.stderr
    grade.grade_all("gradient_descent", [subs], clean, progress=False)
    assert (out / "grades.csv").read_text() == (clean / "grades.csv").read_text()


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    atomic_write(path, '{"score": 1}')

    def interrupted(*a):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, '{"score": 2}' + " " * (1 << 20))
    assert path.read_text() == '{"score": 1}' and os.listdir(tmp_path) == ["results.json"]
