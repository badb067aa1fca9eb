"""dist/: the student handout (public checks only, grader.check cells) and the otter zip, which
`otter run` grades with the isolated engine: same totals as `autograder grade`, and the attacks
that work against plain otter do not work against it."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import variants
import variants_mlp
from autograder import assignments, batch, build, grade, isolation, public, single_notebook



def otter_run(zip_path, submission, tmp_path, timeout=600):
    """`otter run` as an instructor would; returns (results.json or None, seconds, output)."""
    out = tmp_path / f"otter-{submission.stem}"
    out.mkdir()
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(zip_path), "-o", str(out),
                           str(submission)], capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - start
    path = out / "results.json"
    return (json.loads(path.read_text()) if path.exists() else None), seconds, proc.stdout + proc.stderr


# -- the handout ----------------------------------------------------------------------------------

def _handout_text(made, kind):
    """Everything a handout holds, as text: the folder's files, or the single notebook and the
    files its setup cell carries."""
    if kind == "folder":
        return "\n".join(p.read_text(errors="replace") for p in made.student.rglob("*") if p.is_file())
    carried = single_notebook.unpacked(nbformat.read(made.notebook, as_version=4))
    return "\n".join([made.notebook.read_text(), *(b.decode(errors="replace") for b in carried.values())])


@pytest.mark.parametrize("name", assignments.NAMES)
@pytest.mark.parametrize("kind", ["folder", "single notebook"])
def test_student_handout_holds_no_hidden_check_nor_reference_code(dist, name, kind):
    student = dist[name].student
    a = assignments.get(name)
    text = _handout_text(dist[name], kind)
    import inspect
    hidden = [c for c in a.checks if c.hidden]
    rest = inspect.getsource(inspect.getmodule(next(iter(a.checks)).fn))
    hidden_sources = {c.name: inspect.getsource(c.fn) for c in hidden}
    for src in hidden_sources.values():
        rest = rest.replace(src, "")
    # Lines public code may share: the checks module outside hidden checks, and the toolkit's
    # own check helpers, which the handout ships.
    rest += "".join(p.read_text() for p in sorted((Path(grade.__file__).parent / "checking").glob("*.py")))
    elsewhere = {ln.strip() for ln in rest.splitlines()} | {ln.split("  #")[0].strip() for ln in rest.splitlines()}
    for check in hidden:
        assert check.name not in text, f"hidden check {check.name} leaked into the handout"
        own = [ln.strip() for ln in hidden_sources[check.name].splitlines()[2:]
               if len(ln.strip()) > 25 and ln.strip() not in elsewhere]
        leaked = [ln for ln in own if ln in text]
        assert not leaked, f"source of hidden check {check.name} leaked: {leaked[:2]}"
    assert "BEGIN SOLUTION" not in text
    # No line of the reference's solution code (between its markers) that the stub lacks.
    solution, stub = a.solution.read_text(), build.notebook_text(build.stub_notebook(a))
    inside = re.findall(r"# BEGIN SOLUTION\n(.*?)# END SOLUTION", solution, flags=re.S)
    own = {ln.strip() for block in inside for ln in block.splitlines() if len(ln.strip()) > 25}
    leaked = [ln for ln in own if ln in text and ln not in stub]
    assert not leaked, f"reference code leaked into the handout: {leaked[:2]}"
    public = [c for c in a.checks if not c.hidden]
    assert all(c.name in text for c in public)
    assert sorted(p.name for p in (student / "tests").iterdir()) == sorted(
        f"{build.task_key(t)}.py" for t in {c.task for c in public})


def _check_outputs(nb):
    out = {}
    for cell in nb.cells:
        m = re.match(r'grader\.check\("(\w+)"\)', cell.source) if cell.cell_type == "code" else None
        if m:
            out[m.group(1)] = "".join(o.get("text", "") + json.dumps(o.get("data", {})) for o in cell.outputs)
    return out


def _execute(nb, folder):
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return nb


@pytest.mark.parametrize("name", assignments.NAMES)
def test_student_notebook_checks_fail_as_shipped_and_pass_with_reference(dist, name, tmp_path, mnist_study_run):
    student = dist[name].student
    a = assignments.get(name)
    work = tmp_path / "student"
    shutil.copytree(student, work)
    shipped = _execute(nbformat.read(work / f"{name}.ipynb", as_version=4), work)
    outputs = _check_outputs(shipped)
    assert outputs, "no grader.check cells"
    for task, text in outputs.items():
        assert "NotImplementedError: Task" in text or "missing from the submission" in text, (task, text[:500])
        assert "ModuleNotFoundError" not in text and "Malformed" not in text
    # The reference answers spliced in (the study itself is not re-run: its files are copied).
    by_task = {t for t in (c.task for c in a.checks if not c.hidden)}
    solved = build.with_check_cells(build.solution_notebook(a.solution), a, by_task)
    if a.submission_files:
        folder, _ = mnist_study_run
        for f in a.submission_files:
            shutil.copy(folder / f, work / f)
        solved.cells = [c for c in solved.cells if "results = run_study()" not in c.source]
    outputs = _check_outputs(_execute(solved, work))
    for task, text in outputs.items():
        assert "passed" in text and "NotImplementedError" not in text, (task, text[:500])


NO_TORCH = """import importlib.abc
import sys


class NoTorch(importlib.abc.MetaPathFinder):
    \"\"\"As on a student's machine without PyTorch: importing torch fails.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoTorch())
"""


BLOCK_TOOLKIT = """
import importlib, importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "autograder":
            raise ImportError("the handout imported the toolkit: " + name)
sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv[1])
for name in sys.argv[2:]:
    importlib.import_module(name)
print("imported", len(sys.argv) - 2)
"""


@pytest.mark.parametrize("name", assignments.NAMES)
def test_handout_runtime_is_the_toolkits_own_files_and_imports_without_it(dist, name, tmp_path):
    """ag_public/ holds the toolkit's check API, codec, stand_ins, data and handout runtime as
    they are (no edited copies), and every module of it imports in a fresh interpreter where
    the toolkit cannot be imported: an import the handout lacks fails here, not in a notebook."""
    student = dist[name].student
    pkg = student / public.PACKAGE
    for rel in public.COPIED:
        assert (pkg / rel).read_bytes() == (public.TOOLKIT / rel).read_bytes(), rel
    modules = sorted(".".join(p.relative_to(student).with_suffix("").parts).removesuffix(".__init__")
                     for p in pkg.rglob("*.py"))
    assert {"ag_public.public", "ag_public.handout_runtime.runner", "ag_public.checking"} <= set(modules)
    got = subprocess.run([sys.executable, "-I", "-c", BLOCK_TOOLKIT, str(student), *modules], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert got.returncode == 0 and f"imported {len(modules)}" in got.stdout, got.stderr[-2000:]


def _imports_torch(path):
    import ast
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    return any(name.split(".")[0] == "torch" for name in names)


@pytest.mark.parametrize("name", [n for n in assignments.NAMES if not _imports_torch(assignments.get(n).solution)])
def test_numpy_only_handout_works_without_torch(dist, name, tmp_path, monkeypatch):
    """A NumPy-only assignment's handout, solved, passes every grader.check in a kernel that
    cannot import torch (and as shipped, fails them on NotImplementedError, not on torch)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_TORCH)
    monkeypatch.setenv("PYTHONPATH", str(site))  # the kernel nbclient starts inherits it
    student = dist[name].student
    a = assignments.get(name)
    work = tmp_path / "student"
    shutil.copytree(student, work)
    probe = nbformat.v4.new_code_cell("try:\n    import torch\nexcept ModuleNotFoundError:\n    print('no torch')")
    shipped = nbformat.read(work / f"{name}.ipynb", as_version=4)
    shipped.cells.insert(0, probe)
    shipped = _execute(shipped, work)
    assert "no torch" in shipped.cells[0].outputs[0]["text"]
    outputs = _check_outputs(shipped)
    assert outputs and all("NotImplementedError: Task" in text and "torch" not in text for text in outputs.values())
    by_task = {c.task for c in a.checks if not c.hidden}
    solved = build.with_check_cells(build.solution_notebook(a.solution), a, by_task)
    outputs = _check_outputs(_execute(solved, work))
    assert set(outputs) == {build.task_key(t) for t in by_task}
    for task, text in outputs.items():
        assert "passed" in text and "Error" not in text, (task, text[:500])


# -- the zip under otter run ------------------------------------------------------------------------

def _gd_subs(tmp_path):
    return {
        "reference": variants.as_notebook(variants.reference_text(), tmp_path / "reference.ipynb"),
        "stub": Path(shutil.copy(assignments.get("gradient_descent").stub, tmp_path / "stub.ipynb")),
        "bug_batch": variants.as_notebook(variants.bug_variant("epoch_loss_over_batch_size"),
                                          tmp_path / "bug_batch.ipynb"),
        "bug_momentum": variants.as_notebook(variants.bug_variant("momentum_dropped"), tmp_path / "bug_momentum.ipynb"),
    }


def _mlp_subs(tmp_path):
    return {
        "reference": variants.as_notebook(variants_mlp.reference_text(), tmp_path / "reference.ipynb"),
        "stub": Path(shutil.copy(assignments.get("mlp_backprop").stub, tmp_path / "stub.ipynb")),
        "bug_softmax": variants.as_notebook(variants_mlp.bug_variant("unstable_softmax"),
                                            tmp_path / "bug_softmax.ipynb"),
        "bug_one_over_n": variants.as_notebook(variants_mlp.bug_variant("missing_one_over_n"),
                                               tmp_path / "bug_n.ipynb"),
    }


def _linear_subs(tmp_path):
    import variants_linear
    return {
        "reference": variants.as_notebook(variants_linear.reference_text(), tmp_path / "reference.ipynb"),
        "stub": Path(shutil.copy(assignments.get("linear_classifier").stub, tmp_path / "stub.ipynb")),
        "bug_gradient": variants.as_notebook(variants_linear.bug_variant("gradient_without_one_over_m"),
                                             tmp_path / "bug_gradient.ipynb"),
        "bug_torch": variants.as_notebook(variants_linear.bug_variant("gradient_with_torch"),
                                          tmp_path / "bug_torch.ipynb"),
    }


def _mnist_subs(tmp_path, folder):
    import variants_mnist
    subs = {}
    ref = variants_mnist.reference_text()
    for name, text, change in (("reference", ref, None), ("stub", None, None),
                               ("bug_fraction",
                                variants.patch(ref, variants_mnist.CODE_BUGS["accuracy_as_fraction"][0]),
                                None),
                               ("bug_inflated", ref, "inflated")):
        d = tmp_path / name
        if text is None:
            d.mkdir()
            shutil.copy(assignments.get("mnist_study").stub, d / "mnist_study.ipynb")
        else:
            variants_mnist.make_folder(d, text, folder, change)
            variants.as_notebook(text, d / "mnist_study.ipynb")  # replaces the folder's mnist_study.py
        with zipfile.ZipFile(tmp_path / f"{name}.zip", "w") as z:
            for f in d.iterdir():
                z.write(f, f.name)
        subs[name] = tmp_path / f"{name}.zip"
    return subs


@pytest.mark.parametrize("name", assignments.NAMES)
def test_otter_run_totals_equal_autograder_grade(dist, name, tmp_path, mnist_study_run):
    zip_path = dist[name].zip
    subs = {"gradient_descent": _gd_subs, "mlp_backprop": _mlp_subs, "linear_classifier": _linear_subs}.get(name)
    subs = subs(tmp_path) if subs else _mnist_subs(tmp_path, mnist_study_run[0])
    ours = {r.submission: r for r in batch.grade_all(name, list(subs.values()), tmp_path / "graded", progress=False)}
    for label, path in subs.items():
        results, seconds, log = otter_run(zip_path, path, tmp_path)
        assert results is not None, log[-3000:]
        mine = ours[path.stem]
        assert results["score"] == mine.score, (label, results["score"], mine.score)
        assert len(results["tests"]) == len(mine.checks)
        visibility = {t["name"].split(": ")[-1]: t["visibility"] for t in results["tests"]}
        assert all(visibility[c.name] == ("after_published" if c.hidden else "visible") for c in mine.checks)
    a = assignments.get(name)
    assert ours[subs["reference"].stem].score == a.total and ours[subs["stub"].stem].score == 0


# -- attacks that work against plain otter (shared notes), each through otter run --------------------

def _attack(tmp_path, dist, edits=(), extra_cells=()):
    text = variants.patch(variants.reference_text(), list(edits))
    path = variants.as_notebook(text, tmp_path / "attack.ipynb")
    nb = nbformat.read(path, as_version=4)
    nb.cells += [nbformat.v4.new_code_cell(src) for src in extra_cells]
    nbformat.write(nb, path)
    results, seconds, log = otter_run(dist["gradient_descent"].zip, path, tmp_path, timeout=300)
    assert results is not None, log[-3000:]
    return results, seconds


def _scores(results):
    return {t["name"].split(": ")[-1]: t["score"] for t in results["tests"]}


def test_attack_infinite_loop_is_cut_off(tmp_path, dist):
    results, seconds = _attack(tmp_path, dist,
                               [("fit_numpy", "    n, d = X.shape\n", "    while True:\n        pass\n")],
                               ["while True:\n    pass"])
    scores = _scores(results)
    assert all(scores[c] == 0 for c in ("test_fit_numpy_contract", "test_fit_numpy_values", "test_fit_numpy_hidden"))
    assert results["score"] == 27 - 5 and seconds < 120
    assert any("timed out" in t["output"] for t in results["tests"])


def test_attack_os_exit_leaves_a_full_result(tmp_path, dist):
    results, _ = _attack(tmp_path, dist, [("loss_func", "    return torch.mean((y_pred - y_true) ** 2)\n",
                                           "    import os\n    os._exit(0)\n")], ["import os\nos._exit(0)"])
    assert results["score"] == 27 - 2 and len(results["tests"]) == 25


def test_attack_bombs_and_background_children_through_otter(tmp_path, dist):
    """The hostile-submission cases that stress the machine, through `otter run` on the zip: a
    fork bomb in model (its 2 checks time out), a background child left by loss_func and 1 GB
    printed by fit_numpy (both otherwise correct, so full marks); no child outlives grading."""
    import test_hostile
    edits = [("model", "    return weight * data + bias\n",
              "    " + test_hostile.FORK_BOMB.strip().replace("\n", "\n    ") + "\n"),
             ("loss_func", "    return torch.mean((y_pred - y_true) ** 2)\n",
              f"    import subprocess\n"
              f"    subprocess.Popen(['sleep', '{test_hostile.SLEEP_MARK}'], start_new_session=True)\n"
              "    return torch.mean((y_pred - y_true) ** 2)\n"),
             ("fit_numpy", "    n, d = X.shape\n",
              "    for _ in range(1024):\n        print('x' * (1 << 20))\n    n, d = X.shape\n")]
    results, seconds = _attack(tmp_path, dist, edits)
    scores = _scores(results)
    assert scores["test_model_values"] == 0 and scores["test_model_gradients"] == 0
    lost = {t["name"]: t.get("output", "")[:300] for t in results["tests"] if t["score"] < t["max_score"]}
    assert results["score"] == 27 - 2 and seconds < 180, (seconds, lost)
    if isolation.resolve().isolated:
        assert test_hostile.sleepers() == []


PATCHING = """
import numpy as np, builtins, sys
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
try:
    import otter.test_files
    otter.test_files.ExceptionTestFile.run = lambda self, env: None
except Exception:
    pass
import glob, os
for path in glob.glob("tests/*.py") + glob.glob("../source/tests/*.py"):
    open(path, "w").write("OK_FORMAT = False\\nname = 'x'\\n")
"""


def test_attack_patching_helpers_otter_and_test_files_changes_nothing(tmp_path, dist):
    bug = variants.BUGS["epoch_loss_over_batch_size"][0]
    sabotage = [("fit_BGD", "    losses = np.zeros(num_epochs)\n", "    " + PATCHING.strip().replace("\n", "\n    ")
                 + "\n    losses = np.zeros(num_epochs)\n")]
    results, _ = _attack(tmp_path, dist, bug + sabotage, [PATCHING])
    scores = _scores(results)
    assert scores["test_fit_BGD_seed_data"] == 0 and scores["test_fit_BGD_short_last_batch"] == 0
    assert results["score"] == 22


LEAK = '''
    import glob, os
    found = []
    for pattern in ("tests/*.py", "../source/tests/*.py", "../source/files/**/checks.py", "../source/**/*.py",
                    "/autograder/source/**/*.py"):
        for p in glob.glob(pattern, recursive=True):
            try:
                found.append(p + ":" + open(p).read()[:300])
            except OSError as e:
                found.append(p + ":" + type(e).__name__)
    raise RuntimeError("LEAK " + " || ".join(found))
'''


def test_attack_reading_hidden_tests_finds_nothing(tmp_path, dist):
    results, _ = _attack(tmp_path, dist, [("model", "    return weight * data + bias\n", LEAK)])
    text = json.dumps(results)
    hidden = [c for c in assignments.get("gradient_descent").checks if c.hidden]
    assert "LEAK" in text
    assert not any(c.name in t["output"] for c in hidden for t in results["tests"]), "hidden check names leaked"
    assert "hidden_data" not in text and "Registry" not in text


FAKE = '''
    import glob, json, os
    fake = json.dumps({"score": 1000, "tests": [{"name": "pwned", "score": 1000, "max_score": 1}]})
    for pattern in ("../results", "../../results", "/autograder/results"):
        for d in glob.glob(pattern):
            try:
                open(os.path.join(d, "results.json"), "w").write(fake)
            except OSError:
                pass
    os._exit(0)
'''


def test_attack_fake_results_json_does_not_survive(tmp_path, dist):
    results, _ = _attack(tmp_path, dist, [("model", "    return weight * data + bias\n", FAKE)])
    assert results["score"] == 27 - 2 and "pwned" not in json.dumps(results)


def test_export_for_tas_is_a_pdf_of_the_answers_and_plots(tmp_path):
    """The written answers and plots of an executed submission, exported for manual grading
    as a PDF (LaTeX or headless Chromium), opened with poppler: its pages hold the answers,
    the plots and none of the code."""
    from autograder import export
    if not (shutil.which("xelatex") and shutil.which("pandoc")) and export.chromium() is None:
        pytest.skip("no PDF maker: apt-get install chromium-headless-shell (done by .ci/run)")
    if not (shutil.which("pdftoppm") and shutil.which("pdftotext")):
        pytest.skip("apt-get install poppler-utils (done by .ci/run)")
    a = assignments.get("gradient_descent")
    nb = build.solution_notebook(a.solution)
    assert "MPLBACKEND" not in os.environ  # a kernel on Agg would show no plot to export
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    nbformat.write(nb, tmp_path / "alice.ipynb")
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "export", "gradient_descent",
                           str(tmp_path / "alice.ipynb"), "--out", str(tmp_path / "manual")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    [path] = list((tmp_path / "manual").iterdir())
    assert path.name == "alice.pdf" and path.read_bytes()[:5] == b"%PDF-"
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())  # lines as wrapped on the page, joined
    assert "Question 1.5" in text and "Question 3.2" in text
    assert "Mini-batches give" in text and "SGD curve keeps oscillating" in text
    assert "def fit_GD" not in text  # only what is graded by hand
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages
    from PIL import Image
    colours = set()
    for page in pages:
        with Image.open(page) as img:
            colours |= {c for _, c in img.convert("RGB").getcolors(1 << 20)}
    assert any(abs(r - b) > 60 for r, g, b in colours)  # a coloured plot line, not only black text


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: signal.Signals(s).name)
def test_stopping_otter_run_leaves_no_worker_or_scratch_folder(sig, dist, tmp_path):
    """A signal to `otter run` while the engine grades a submission that loops: the workers and
    the engine's scratch folder go with it (by the engine's clean-up, or, when otter dies at
    once, by the workers' keepers and the template noticing)."""
    import test_stop
    notebook = variants.as_notebook(variants.patch(variants.reference_text(), test_stop.LOOPING),
                                    tmp_path / "loops.ipynb")
    scratch, out = tmp_path / "scratch", tmp_path / "out"
    scratch.mkdir()
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(dist["gradient_descent"].zip),
                             "-o", str(out), str(notebook)], env=test_stop.run_env(scratch),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and len(test_stop.batch_processes(scratch)) < 3:
            time.sleep(0.05)
        assert proc.poll() is None
        time.sleep(0.5)  # into the loop
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and test_stop.leftovers(scratch) != ([], []):
        time.sleep(0.05)
    assert test_stop.leftovers(scratch) == ([], [])

