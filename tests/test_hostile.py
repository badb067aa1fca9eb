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
from autograder import cli, grade, submission, text
from autograder.batch import grade_all
from autograder.results import atomic_write
from autograder import isolation
from conftest import uid_mode_works

REF = variants.reference_text()
MODEL_BODY = "    return weight * data + bias\n"
SECRET = "grader-secret-9d2c"
HIDDEN_CHECK = "test_fit_GD_hidden_trajectory"
SLEEP_MARK = "4321.5"  # argument of a background `sleep` that must not outlive grading
CALL_TIMEOUT = 2
LEFTOVER = f"agr-leftover-{os.getpid()}"  # a file a submission leaves in shared scratch folders
HOME_FILE = Path.home() / f".agr-hostile-{os.getpid()}"  # the grader's own file, holding SECRET
PWNED = Path.home() / f"PWNED_BY_STUDENT_{os.getpid()}"  # what a submission tries to create there
# The batch is graded in the strongest mode this machine offers and, as root, in the uid mode
# too (what a container's default security leaves: see README, Security).
MODES = ["strongest"] + (["uid"] if uid_mode_works() else [])


def needs(batch, field, why):
    """Skip unless the batch's isolation policy has ``field``."""
    if not getattr(batch["policy"], field):
        pytest.skip(f"{batch['policy'].mode.value} mode: {why}")


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


# Student code can find the worker's end of the reply pipe (the only pipe it may write) in
# /proc/self/fd and write well-framed messages of its own on it.
FORGE = """
import os, struct
def _forge(payload):
    for fd in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                flags = int(info.read().split("flags:")[1].split()[0], 8)
        except (OSError, IndexError, ValueError):
            continue
        if flags & 1:
            os.write(int(fd), struct.pack(">I", len(payload)) + payload)
"""


def forge_at_load(payload_expr):
    return at_load(FORGE + f"_forge({payload_expr})\n")


def forge_in_model(payload_expr):
    return in_model(FORGE + f"_forge({payload_expr})\n" + MODEL_BODY[4:])


def replace_files_at_load(make):
    """At load, the worker's loading.txt and output.txt replaced (``make(name)``), then the
    process ends: the grader reads both to say what happened."""
    return at_load("import os\nfor name in ('loading.txt', 'output.txt'):\n    try:\n        os.remove(name)\n"
                   "    except OSError:\n        pass\n" + "".join(f"    {line}\n" for line in make.splitlines())
                   + "os._exit(3)\n")


CONTINUATIONS = """ok = (tuple(data.shape)
      != (0, 0))
width = (7
         % 4)
return weight * data + bias if ok and width == 3 else None
"""
RESTORES_TORCH = """
    import importlib, sys
    sys.meta_path[:] = [f for f in sys.meta_path if "absent" not in type(f).__module__]
    for name in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    import torch
    wt, bt = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True), torch.zeros((), dtype=torch.float64)
    return wt.detach().numpy(), float(bt), np.zeros(num_iters)
"""
LEAK_MODEL = """import builtins
builtins.__dict__.setdefault("_agr_seen", []).append(round(float(weight.reshape(-1)[0]), 3))
return weight * data + bias
"""
MARKDOWN_CLASS = "## \u2705 All tests passed \u2014 27/27 ![ok](https://example.invalid/ok.png)"


def zip_bytes(members, method=zipfile.ZIP_STORED):
    """A zip of {name: bytes} (names as given: ``ZipFile.writestr`` leaves the type bits empty)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def patch_headers(raw, **fields):
    """Change fields of every local and central header: flags, method, size (uncompressed)."""
    out = bytearray(raw)
    offsets = {"PK\x03\x04": {"flags": 6, "method": 8, "size": 22},
               "PK\x01\x02": {"flags": 8, "method": 10, "size": 24}}
    for sig, where in offsets.items():
        start = 0
        while (i := out.find(sig.encode("latin-1"), start)) >= 0:
            for name, value in fields.items():
                width = 4 if name == "size" else 2
                old = int.from_bytes(out[i + where[name]: i + where[name] + width], "little")
                new = value(old) if callable(value) else value
                out[i + where[name]: i + where[name] + width] = new.to_bytes(width, "little")
            start = i + 4
    return bytes(out)


def broken_zips():
    """name -> zip bytes: each way a zip made on purpose or by a broken tool can be unreadable,
    and the two shapes of a correct zip that earlier refusals got wrong."""
    ref = REF.encode()
    stored = zip_bytes({"sub.py": ref})
    deflated = zip_bytes({"sub.py": ref}, zipfile.ZIP_DEFLATED)
    at = deflated.index(b"PK\x03\x04") + 30 + len("sub.py") + 40
    bad_deflate = deflated[:at] + bytes(b ^ 0x55 for b in deflated[at:at + 200]) + deflated[at + 200:]
    apple = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(64)
    nb = json.dumps(variants_notebook()).encode()
    return {
        "zip_bad_crc": stored.replace(b"return weight * data + bias", b"return weight * data - bias", 1),
        "zip_bad_deflate": bad_deflate,
        "zip_encrypted": patch_headers(stored, flags=lambda f: f | 1),
        "zip_unknown_method": patch_headers(stored, method=99),
        "zip_sizes_lie": patch_headers(stored, size=lambda n: n // 3),
        "zip_file_folder_clash": zip_bytes({"sub": b"x", "sub/sub.py": ref}),
        "zip_long_name": zip_bytes({"a" * 300 + ".py": ref}),
        "zip_dot_member": zip_bytes({".": b"", "sub.py": ref}),
        "zip_from_a_mac": zip_bytes({"sub/sub.ipynb": nb, "__MACOSX/sub/._sub.ipynb": apple, "sub/.DS_Store": apple}),
        "zip_no_type_bits": zip_bytes({"sub.py": ref}),
    }


def variants_notebook():
    """The reference as an nbformat 4 notebook (a dict)."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        return json.loads(variants.as_notebook(REF, Path(d) / "n.ipynb").read_text())


def nbformat3(nb4):
    """The same notebook in nbformat 3: cells in a worksheet, code in "input"."""
    cells = []
    for c in nb4["cells"]:
        src = c["source"]
        cells.append({"cell_type": "code", "input": src, "language": "python", "outputs": [],
                      "metadata": {}} if c["cell_type"] == "code" else {"cell_type": c["cell_type"], "source": src,
                                                                         "metadata": {}})
    return {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""},
            "worksheets": [{"cells": cells, "metadata": {}}]}


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
    c.update({
        # forged messages on the reply pipe
        "forged_list_at_load": ("ipynb", forge_at_load("b'[]'")),
        "forged_deep_at_load": ("ipynb", forge_at_load("b'[' * 150000 + b']' * 150000")),
        "forged_many_lists_at_load": ("ipynb", forge_at_load("b'[' + b'[],' * 7000000 + b'[]]'")),
        "forged_64_mib_at_load": ("ipynb", forge_at_load("b'[' * (64 << 20)")),
        "forged_nan_cpu": ("py", forge_in_model(
            "b'{\"op\":\"result\",\"id\":0,\"ok\":true,\"value\":null,\"forbidden\":[],\"cpu\":NaN}'")),
        "forged_inf_cpu": ("py", forge_in_model(
            "b'{\"op\":\"result\",\"id\":0,\"ok\":true,\"value\":null,\"forbidden\":[],\"cpu\":1e999}'")),
        "forged_huge_class_name": ("py", forge_in_model(
            "b'{\"op\":\"result\",\"id\":0,\"ok\":true,\"forbidden\":[],\"value\":{\"__opaque__\":\"' "
            "+ b'A' * (10 << 20) + b'\",\"text\":\"x\"}}'")),
        "forged_fatal_with_escape_codes": ("ipynb", forge_at_load(
            "b'{\"op\":\"loaded\",\"fatal\":\"\\u001b[2J\\u001b]0;owned\\u0007PWNED ' + b'B' * (10 << 20) "
            "+ b'\",\"cell_errors\":[],\"names\":[]}'")),
        "huge_class_name_returned": ("py", in_model("return type('A' * 10_000_000, (), {})()\n")),
        # files in the worker's own folder that the grader reads
        "named_pipes_at_load": ("ipynb", replace_files_at_load("os.mkfifo(name)")),
        "links_to_dev_zero_at_load": ("ipynb", replace_files_at_load("os.symlink('/dev/zero', name)")),
        "output_linked_to_checks_at_load": ("ipynb", replace_files_at_load(
            f"os.symlink({str(checks_file)!r} if name == 'output.txt' else '/nonexistent', name)")),
        # heavy text
        "literal_list_of_3_mib": ("py", REF + "\nDATA = [" + "0," * (3 << 19) + "]\n"),
        # values and rules
        "complex_model": ("py", in_model("return (weight * data + bias) + 1e6j\n")),
        "fit_GD_returns_a_tensor": ("py", variants.patch(REF, [("fit_GD", "    return losses\n",
                                                                 "    return torch.tensor(losses)\n")])),
        "restores_torch_in_fit_numpy": ("py", variants.patch(REF, [("fit_numpy", "    n, d = X.shape\n",
                                                                     RESTORES_TORCH + "    n, d = X.shape\n")])),
        "leaks_hidden_inputs": ("py", variants.patch(in_model(LEAK_MODEL), [
            ("loss_func", "    return torch.mean((y_pred - y_true) ** 2)\n",
             "    import builtins\n    raise ValueError(f'SEEN {builtins.__dict__.get(\"_agr_seen\")}')\n")])),
        "markdown_in_class_name": ("py", in_model(f"raise type({MARKDOWN_CLASS!r}, (Exception,), {{}})('x')\n")),
        "operator_continuations": ("ipynb", in_model(CONTINUATIONS)),
        "nbformat_3": ("ipynb", json.dumps(nbformat3(variants_notebook()))),
        # names
        "alice": ("py", REF),
        "..": ("py", REF),
        ".": ("py", REF),
        "new\nline": ("py", REF),
        "\x1b[31mred": ("py", REF),
    })
    c["alice_nb"] = ("ipynb", json.dumps(variants_notebook()))
    c.update({name: ("zip", data) for name, data in broken_zips().items()})
    return c


def write_case(folder, name, suffix, content):
    name = "alice" if name == "alice_nb" else name  # alice.py and alice.ipynb: one stem, two submissions
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


def grade_batch(subs, out, mode=None):
    """``autograder grade`` on the batch (``--isolation mode``, else the strongest), with the
    secret a submission tries to read set in the environment and in a file in the grader's home
    directory. Exits 1: some submissions cannot be graded (unreadable files, unsafe zips)."""
    os.environ["AUTOGRADER_TEST_SECRET"] = SECRET
    HOME_FILE.write_text(SECRET)
    try:
        return cli.main(["grade", "gradient_descent", str(subs), "--out", str(out), "--timeout", str(CALL_TIMEOUT),
                         "--load-timeout", "4", "-q"] + (["--isolation", mode] if mode else []))
    finally:
        del os.environ["AUTOGRADER_TEST_SECRET"]
        HOME_FILE.unlink()


@pytest.fixture(scope="module", params=MODES)
def batch(tmp_path_factory, request):
    mode = None if request.param == "strongest" else request.param
    subs, out = tmp_path_factory.mktemp("hostile"), tmp_path_factory.mktemp("hostile-out")
    write_batch(subs, out)
    start = time.monotonic()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = grade_batch(subs, out, mode)
    seconds = time.monotonic() - start
    names = sorted(submission.names_for(subs.iterdir()).values())
    return {"out": out, "subs": subs, "names": names, "seconds": seconds, "code": code, "stderr": err.getvalue(),
            "policy": isolation.resolve(mode)}


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
            assert f"  {text.line(name, 100)}: {text.line(r['output'].splitlines()[0], 300)}" in listed, name
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


def test_background_child_does_not_outlive_grading(batch):
    needs(batch, "isolated", "a child can leave with --no-sandbox")
    assert_full_marks(batch, "background_child")
    assert sleepers() == []


def test_files_left_in_scratch_folders_are_gone_after_grading(batch):
    """/tmp, /dev/shm and /var/tmp are private to the worker (namespaces), or what its uid left
    there is removed (the uid mode)."""
    needs(batch, "isolated", "the worker writes as the grader's user")
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


def test_cannot_write_results_gradebook_toolkit_or_home(batch):
    needs(batch, "isolated", "the worker writes as the grader's user")
    out = next(t["output"] for t in model_tests(batch, "writes_results_and_toolkit"))
    found = out.split("WRITES ", 1)[1].split("\n")[0].split(" | ")
    assert len(found) == 6 and not any(f.startswith("WROTE") for f in found), found
    assert not PWNED.exists()
    assert "tampered" not in (batch["out"] / "reference" / "results.json").read_text()
    assert "tampered" not in Path(grade.__file__).read_text()


def test_cannot_read_checks_references_home_environment_memory_or_network(batch):
    needs(batch, "isolated", "the worker reads as the grader's user")
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
    grade_all("gradient_descent", [subs], clean, progress=False)
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


# -- what comes back from the worker: replies, files, values ---------------------------------------

def everything_written(batch):
    """Every file the batch wrote, as text: results, pages, gradebook, summary."""
    return {p: p.read_text(errors="replace") for p in batch["out"].rglob("*") if p.is_file()}


def test_no_case_is_an_internal_error_and_nothing_is_huge(batch):
    """Whatever a submission sends or does, no message blames the grader, and no results.json
    grows with what the submission sent (10 MB class names, forged messages)."""
    for name in batch["names"]:
        path = batch["out"] / name / "results.json"
        assert "Internal grader error" not in path.read_text() and "internal error" not in path.read_text(), name
        assert path.stat().st_size < 200_000, (name, path.stat().st_size)
        page = batch["out"] / name / "feedback.html"
        assert page.stat().st_size < 3_000_000, (name, page.stat().st_size)
    assert "Traceback" not in batch["stderr"] and "internal error" not in batch["stderr"], batch["stderr"][-3000:]


@pytest.mark.parametrize("name, why", [("forged_list_at_load", "a list, not a message"),
                                       ("forged_deep_at_load", "nested too deeply"),
                                       ("forged_many_lists_at_load", "more than 200000 lists"),
                                       ("forged_64_mib_at_load", "exceeds the 32 MiB limit")])
def test_forged_load_replies_mean_the_submission_could_not_be_loaded(batch, name, why):
    """Only the submission's own code can write on its worker's pipe: a reply the grader refuses
    while loading is the end of that submission (deterministically: no cell is guessed at)."""
    r = results(batch, name)
    assert r["score"] == 0 and not r["extra_data"]["graded"], r["output"]
    assert "sent a reply the grader refuses" in r["output"] and why in r["output"], r["output"]


@pytest.mark.parametrize("name, phrase", [("forged_nan_cpu", "holds NaN"),
                                          ("forged_inf_cpu", "CPU time is not a number of seconds")])
def test_forged_call_replies_cost_their_checks(batch, name, phrase):
    assert_costs_only_model(batch, name, "sent a reply the grader refuses")
    assert any(phrase in t["output"] for t in model_tests(batch, name))


@pytest.mark.parametrize("name", ["forged_huge_class_name", "huge_class_name_returned"])
def test_huge_class_names_are_cut(batch, name):
    """(A forged reply is read as the call's answer; the real one, left on the pipe, fails the
    next call, which is what forging costs.)"""
    assert all(t["score"] == 0 for t in model_tests(batch, name))
    assert results(batch, name)["score"] < results(batch, "reference")["score"]
    outputs = " ".join(t["output"] for t in model_tests(batch, name))
    assert "AAAAAAAAAA" in outputs and "A" * 201 not in outputs


def test_forged_reason_with_terminal_codes_is_shown_clean_and_short(batch):
    r = results(batch, "forged_fatal_with_escape_codes")
    assert not r["extra_data"]["graded"] and "PWNED" in r["output"]
    assert "\x1b" not in r["output"] and "\x07" not in r["output"] and len(r["output"]) < 5000
    listed = batch["stderr"].split("Could not be graded", 1)[1]
    assert "PWNED" in listed and "\x1b" not in batch["stderr"] and "\x07" not in batch["stderr"]


@pytest.mark.parametrize("name", ["named_pipes_at_load", "links_to_dev_zero_at_load",
                                  "output_linked_to_checks_at_load"])
def test_files_the_worker_replaced_never_hang_or_leak(batch, name):
    """loading.txt and output.txt made into named pipes, links to /dev/zero or to the hidden
    checks: the grader reads neither (no hang, no memory blow-up, nothing of the checks)."""
    r = results(batch, name)
    assert r["score"] == 0 and not r["extra_data"]["graded"] and r["execution_time"] < 60
    assert "ended the process" in r["output"] or "process ended" in r["output"], r["output"]


def test_no_byte_of_the_checks_reaches_any_output(batch):
    """The code of the checks (not the docstrings the pages show) appears in no file the batch
    wrote, whatever a submission linked its files to."""
    import ast
    checks_file = Path(grade.__file__).parent / "assignments" / "gradient_descent" / "checks.py"
    source = checks_file.read_text()
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if ast.get_docstring(node) else node.body
            for stmt in body:
                lines |= {line.strip() for line in ast.get_source_segment(source, stmt).splitlines()
                          if len(line.strip()) >= 30}
    assert len(lines) > 50
    tail = source[-300:]
    for path, content in everything_written(batch).items():
        assert tail not in content, path
        leaked = [line for line in lines if line in content]
        assert not leaked, (path, leaked[:3])


def test_a_3_mib_literal_is_parsed_by_the_worker_not_the_grader(batch):
    """The grader never parses a submission: its signature comes from the worker, which gives
    up on code beyond 1 MiB (the batch's memory bound is tested in test_grader_memory_...)."""
    r = results(batch, "literal_list_of_3_mib")
    assert r["extra_data"]["code_signature"] == ""
    assert results(batch, "reference")["extra_data"]["code_signature"]


def test_complex_values_are_not_real_numbers(batch):
    assert_costs_only_model(batch, "complex_model", "expected real numbers")


def test_a_student_type_mistake_is_the_students_failure(batch):
    """fit_GD returning a tensor where the docstring says np.ndarray: its checks fail saying
    what was expected and got (not "internal error")."""
    got = checks_of(batch, "fit_GD_returns_a_tensor")
    failed = [t for t in got.values() if t["score"] < t["max_score"]]
    assert failed and all("(fit_GD)" in t["name"] for t in failed)
    assert any("expected np.ndarray, got torch.Tensor" in t["output"] for t in failed), [t["output"] for t in failed]


def test_numpy_only_rule_holds_whatever_the_code_does_to_its_imports(batch):
    """fit_numpy that removes the stand-in, empties sys.modules and imports torch again finds
    none: torch is neither in the worker's process nor in its file system."""
    needs(batch, "hides_modules", "torch's folder is not hidden (the rule is checked, not enforced)")
    got = checks_of(batch, "restores_torch_in_fit_numpy")
    rule = got["test_fit_numpy_without_torch"]
    assert rule["score"] == 0, rule["output"]
    assert "torch" in rule["output"], rule["output"]


def test_hidden_inputs_never_reach_a_visible_message(batch):
    """A submission that records what its calls receive and shows it in a later visible check
    shows only the visible checks' inputs: every visible check runs before any hidden one."""
    got = checks_of(batch, "leaks_hidden_inputs")
    visible = [t["output"] for t in got.values() if t["visibility"] == "visible"]
    assert any("SEEN [1.5]" in out for out in visible), visible
    hidden_weight = "0.7"  # test_model_gradients' weight
    assert not any(hidden_weight in out for out in visible), visible


def test_markdown_from_student_text_is_inert(batch):
    """Every check's Markdown output is one code block (no heading, image or link can start in
    it), whatever the submission's exceptions are called."""
    for name in batch["names"]:
        for t in results(batch, name)["tests"]:
            out = t["output"]
            assert out in ("", "Passed.") or (out.startswith("```") and out.endswith("```")), (name, out[:200])
    outputs = [t["output"] for t in model_tests(batch, "markdown_in_class_name")]
    assert any("All tests passed" in out for out in outputs)
    assert_costs_only_model(batch, "markdown_in_class_name")


@pytest.mark.parametrize("name", ["operator_continuations", "nbformat_3", "zip_dot_member", "zip_from_a_mac",
                                  "zip_no_type_bits"])
def test_valid_submissions_in_unusual_shapes_earn_full_marks(batch, name):
    assert_full_marks(batch, name)


@pytest.mark.parametrize("name", ["zip_bad_crc", "zip_bad_deflate", "zip_encrypted", "zip_unknown_method",
                                  "zip_sizes_lie", "zip_file_folder_clash", "zip_long_name"])
def test_damaged_zips_cannot_be_graded_and_say_why(batch, name):
    r = results(batch, name)
    assert r["score"] == 0 and not r["extra_data"]["graded"]
    assert "could not be graded: the zip is damaged: " in r["output"], r["output"]


def test_every_name_gets_its_own_safe_folder_and_row(batch):
    """alice.py and alice.ipynb are two submissions; "...py", "..py", a newline or escape codes
    in a name give a folder inside --out, a page and a row of their own."""
    rows = gradebook(batch)
    for name in ("alice.ipynb", "alice.py", "_..", "_.", "new_line", "_[31mred"):
        assert name in rows and float(rows[name]["score"]) == 27.0, (name, sorted(rows))
        assert (batch["out"] / name / "feedback.html").is_file()
    assert not (batch["out"].parent / "results.json").exists() and not (batch["out"] / "results.json").exists()
    assert "'alice.ipynb' and 'alice.py' share the name 'alice': graded as alice.ipynb and alice.py" in batch["stderr"]
    assert all(p.parent.parent == batch["out"] for p in batch["out"].glob("*/results.json"))


# -- the output folder ---------------------------------------------------------------------------

def test_hostile_files_in_the_output_folder_stop_neither_a_rerun_nor_report(tmp_path):
    """results.json files nested 100,000 deep, named pipes and links to /dev/zero in --out (a run
    without isolation lets student code write there): the re-run grades those submissions again,
    and `autograder report` lists what it cannot read, without hanging or a traceback."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    variants.write(subs, "a_reference", REF)
    variants.write(subs, "b_bug", variants.bug_variant("gradient_ascent"))
    for name in ("a_reference", "b_bug", "c_link", "d_deep"):
        (out / name).mkdir(parents=True)
    (out / "a_reference" / "results.json").write_text("[" * 100_000 + "]" * 100_000)
    os.mkfifo(out / "b_bug" / "results.json")
    (out / "c_link" / "results.json").symlink_to("/dev/zero")
    (out / "d_deep" / "results.json").write_text('{"a": ' * 100_000 + "1" + "}" * 100_000)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.main(["grade", "gradient_descent", str(subs), "--out", str(out), "-q"]) == 0, err.getvalue()
    assert sorted(gradebook({"out": out})) == ["a_reference", "b_bug"]
    assert float(gradebook({"out": out})["a_reference"]["score"]) == 27.0
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "report", str(out)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    skipped = [line for line in proc.stderr.splitlines() if line.startswith("autograder: skipped")]
    assert len(skipped) == 2 and any("c_link" in s for s in skipped) and any("d_deep" in s for s in skipped)
    assert sorted(gradebook({"out": out})) == ["a_reference", "b_bug"]


def _mount_tmpfs(path, options):
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


@pytest.mark.parametrize("kind", ["read-only", "full"])
def test_an_output_folder_that_cannot_be_written_stops_with_a_clear_message(tmp_path, kind):
    """A read-only or full --out: exit 2 and one line saying so (what was written is kept, the
    same command resumes), never a traceback. Root gets a small or read-only tmpfs; an ordinary
    user a folder without write permission (a full disk needs root to make)."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    for i in range(4):
        variants.write(subs, f"s{i}", REF)
    mounted = False
    if os.geteuid() == 0:
        mounted = _mount_tmpfs(out, "ro,size=64k" if kind == "read-only" else "size=48k")
        if not mounted:
            pytest.skip("cannot mount a tmpfs here")
    elif kind == "full":
        pytest.skip("making a full file system needs root (.ci/run runs this test as root)")
    else:
        out.mkdir()
        out.chmod(0o555)
    try:
        proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "gradient_descent", str(subs),
                               "--out", str(out), "-q"], capture_output=True, text=True, timeout=300)
    finally:
        if mounted:
            subprocess.run(["umount", str(out)], check=True)
        else:
            out.chmod(0o755)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    why = "Read-only file system" if mounted and kind == "read-only" else (
        "No space left on device" if kind == "full" else "Permission denied")
    assert f"autograder: cannot write to {out}: {why}" in proc.stderr, proc.stderr[-3000:]
    assert "the same command resumes" in proc.stderr


# -- the grader's own memory ---------------------------------------------------------------------

PEAK = ("import resource, sys; from autograder import cli; code = cli.main(sys.argv[1:]); "
        "print('grader peak RSS KiB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
        "sys.exit(code)")
MEMORY_BOUND = 1 << 30  # the grader process itself, with --jobs 2
MEMORY_CASES = ("literal_list_of_3_mib", "forged_many_lists_at_load", "forged_64_mib_at_load", "forged_huge_class_name",
                "huge_class_name_returned", "forged_fatal_with_escape_codes", "links_to_dev_zero_at_load")


def grade_measured(subs, out, *extra):
    """``autograder grade`` on ``subs`` in a process of its own: (exit code, stderr, the grader
    process's peak resident memory in bytes)."""
    proc = subprocess.run([sys.executable, "-c", PEAK, "grade", "gradient_descent", str(subs), "--out", str(out),
                           "--jobs", "2", "--timeout", str(CALL_TIMEOUT), "--load-timeout", "4", "-q", *extra],
                          capture_output=True, text=True, timeout=900)
    kib = int(proc.stderr.rsplit("grader peak RSS KiB", 1)[1].split()[0])
    return proc.returncode, proc.stderr, kib << 10


def test_the_grader_stays_within_its_memory_bound_whatever_submissions_send(tmp_path):
    """The cases that aim at the grader's memory (a 3 MiB literal, a reply of 7 million lists,
    64 MiB replies, 10 MB names, files linked to /dev/zero), graded two at a time beside the
    reference: the grader process peaks under 1 GiB (it holds torch: about 400 MiB)."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    variants.write(subs, "reference", REF)
    every = cases(out, os.getpid())
    for name in MEMORY_CASES:
        write_case(subs, name, *every[name])
    code, err, peak = grade_measured(subs, out)
    assert code == 1 and "Traceback" not in err, err[-3000:]
    assert float(gradebook({"out": out})["reference"]["score"]) == 27.0
    assert peak < MEMORY_BOUND, f"grader peaked at {peak >> 20} MiB"
