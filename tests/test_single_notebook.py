"""single_notebook: dist/<name>/<name>.ipynb works alone, as a student opens it in Colab.

The kernel is a fresh virtual environment holding only what Colab ships for this course (NumPy,
torch, matplotlib, ipykernel, pip; no otter-grader, no mlxtend), the notebook is alone in an
empty folder, and nbclient runs it. Colab's own module is a stand-in (``google.colab``: the
notebook asked of the front end, the download recorded), put on the kernel's path where a run
plays Colab; without it the same file runs as in JupyterLab or VS Code."""
import importlib.metadata
import json
import os
import shutil
import subprocess
import venv
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import assignments, batch, build, single_notebook
from test_bundle import NO_TORCH, _check_outputs, _imports_torch

COLAB_SHIPS = ("numpy", "torch", "matplotlib", "ipykernel")  # at the grader's versions (pyproject pins them)

FAKE_COLAB = {
    "google/__init__.py": "",
    "google/colab/__init__.py": "from . import _message, files  # noqa: F401\n",
    "google/colab/_message.py": '''"""Stands in for Colab's front end: the notebook as Colab holds it, from disk."""
import json
import os


def blocking_request(kind, request="", timeout_sec=5):
    assert kind == "get_ipynb", kind
    with open(os.environ["FAKE_COLAB_NOTEBOOK"], encoding="utf-8") as f:
        return {"ipynb": json.load(f)}
''',
    "google/colab/files.py": '''"""Stands in for google.colab.files: a download is recorded, one line per file."""
import os


def download(path):
    with open(os.environ["FAKE_COLAB_DOWNLOADS"], "a") as f:
        f.write(os.path.abspath(path) + "\\n")
''',
}


@pytest.fixture(scope="session")
def colab_kernel(tmp_path_factory):
    """A kernel spec "colab" whose Python has only what Colab ships for this course."""
    root = tmp_path_factory.mktemp("colab")
    env = root / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    pins = [f"{p}=={importlib.metadata.version(p)}" for p in COLAB_SHIPS]
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins], check=True,
                   timeout=1200)
    spec = root / "jupyter" / "kernels" / "colab"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": [str(python), "-m", "ipykernel_launcher", "-f",
                                                           "{connection_file}"],
                                                  "display_name": "colab", "language": "python"}))
    fake = root / "fake_colab"
    for rel, text in FAKE_COLAB.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text)
    no_torch = root / "no_torch"
    no_torch.mkdir()
    (root / "home").mkdir()
    (no_torch / "sitecustomize.py").write_text(NO_TORCH)
    return {"python": python, "jupyter": root / "jupyter", "fake_colab": fake, "no_torch": no_torch,
            "home": root / "home"}


def _has(python, module):
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([python, "-c", code]).returncode == 0


def run(nb, folder, kernel, monkeypatch, colab=False, torch=True):
    """Execute ``nb`` (saved first as ``folder/<its name>``, as Colab's front end holds it) in the
    Colab-like kernel, with Colab's stand-in module where ``colab``, torch blocked where not
    ``torch``. Returns the executed notebook."""
    paths = ([str(kernel["fake_colab"])] if colab else []) + ([] if torch else [str(kernel["no_torch"])])
    monkeypatch.setenv("JUPYTER_PATH", str(kernel["jupyter"]))
    monkeypatch.setenv("HOME", str(kernel["home"]))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    monkeypatch.setenv("FAKE_COLAB_DOWNLOADS", str(folder / "downloads.txt"))
    NotebookClient(nb, timeout=900, kernel_name="colab", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def alone(path, tmp_path, label):
    """The file copied alone into an empty folder, as an upload to Colab leaves it."""
    folder = tmp_path / label
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    return folder / path.name


def outputs(cell):
    return "".join(o.get("text", "") + json.dumps(o.get("data", {}).get("text/plain", ""))
                   + (f"{o['ename']}: {o['evalue']}" if o.get("output_type") == "error" else "") for o in cell.outputs)


def solved_notebook(name, student):
    """The single notebook with the reference's code in the student's cells (same setup cell)."""
    a = assignments.get(name)
    by_task = {c.task for c in a.checks if not c.hidden}
    folder_nb = build.with_check_cells(build.solution_notebook(a.solution), a, by_task)
    requires = single_notebook.requirements(build.OTTER_VERSION, a.kernel_packages)
    return single_notebook.single_notebook(folder_nb, name, student, requires)


# -- the file ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", assignments.NAMES)
def test_student_cells_are_the_folder_handouts_and_the_payload_is_its_files(dist, name):
    made = dist[name]
    single = nbformat.read(made.notebook, as_version=4)
    folder = nbformat.read(made.student / f"{name}.ipynb", as_version=4)
    assert len(single.cells) == len(folder.cells)
    code = [i for i, c in enumerate(folder.cells) if c.cell_type == "code"]
    for i, (mine, theirs) in enumerate(zip(single.cells, folder.cells)):
        if i != code[0]:
            assert (mine.cell_type, mine.source, mine.id) == (theirs.cell_type, theirs.source, theirs.id), i
    setup = single.cells[code[0]]
    assert setup.metadata["tags"] == [single_notebook.SETUP_TAG] and setup.metadata["jupyter"]["source_hidden"]
    carried = single_notebook.unpacked(single)
    on_disk = {p.relative_to(made.student).as_posix(): p.read_bytes() for p in made.student.rglob("*")
               if p.is_file() and p.suffix != ".ipynb" and "__pycache__" not in p.parts}
    assert carried == on_disk
    assert "ag_public/public.py" in carried and "ag_public/recorded.json" in carried
    assert all(f in carried for f in assignments.get(name).support_files)
    # The same handout packs to the same bytes: a rebuild does not change the file students have.
    assert single_notebook.packed(made.student) == single_notebook.packed(made.student)


def test_the_setup_cell_refuses_a_changed_payload(dist, tmp_path, colab_kernel, monkeypatch):
    nb = nbformat.read(dist["gradient_descent"].notebook, as_version=4)
    setup = next(c for c in nb.cells if single_notebook.SETUP_TAG in c.metadata.get("tags", []))
    setup.source = setup.source.replace("_AG_PACKED = (\n    '", "_AG_PACKED = (\n    'QUFB", 1)
    nb.cells = [setup]
    folder = tmp_path / "changed"
    folder.mkdir()
    run(nb, folder, colab_kernel, monkeypatch)
    assert "This set-up cell was changed, so its checks cannot be trusted" in outputs(setup)


def test_first_cell_installs_what_is_missing_once_and_running_it_again_is_harmless(dist, tmp_path, colab_kernel,
                                                                                     monkeypatch):
    """In a kernel without otter-grader and mlxtend, the first cell installs both (pinned); run
    again, it installs nothing and unpacks nothing, and the checks still run (here without the
    student's cells: the check says so)."""
    python = colab_kernel["python"]
    first_time = not _has(python, "otter")
    path = alone(dist["mnist_study"].notebook, tmp_path, "twice")
    nb = nbformat.read(path, as_version=4)
    setup = next(c for c in nb.cells if single_notebook.SETUP_TAG in c.metadata.get("tags", []))
    check = next(c for c in nb.cells if c.source.startswith('grader.check("task_1_1")'))
    again = nbformat.from_dict(setup)
    again.id = "setup-again"
    nb.cells = [setup, again, check]
    run(nb, path.parent, colab_kernel, monkeypatch)
    first, second = outputs(setup), outputs(again)
    if first_time:
        assert "Installing otter-grader==7.0.0 mlxtend==" in first, first
    assert "Installing" not in second and "Ready" in second, second
    assert _has(python, "otter") and _has(python, "mlxtend")
    assert "StudentError: the notebook does not define Net" in outputs(check), outputs(check)  # the check ran
    unpacked = list((colab_kernel["home"] / ".cache" / "autograder").glob("mnist_study-*"))
    assert len(unpacked) == 1 and (unpacked[0] / ".complete").is_file()
    assert not list(unpacked[0].parent.glob("*.part*"))
    assert sorted(p.name for p in path.parent.iterdir()) == [".OTTER_LOG", "mnist_study.ipynb"]


@pytest.mark.parametrize("name", assignments.NAMES)
def test_single_notebook_alone_fails_as_shipped_passes_solved_and_its_zip_grades_like_the_folders(
        dist, name, tmp_path, colab_kernel, monkeypatch, mnist_study_run):
    """As shipped (JupyterLab, VS Code): each grader.check fails on its task's NotImplementedError
    and the submit cell writes otter's zip. Solved, in Colab: every check passes and the submit
    cell zips the notebook Colab holds and starts its download. `autograder grade` gives the
    solved zip full marks and the shipped one none, as it does the folder handout's notebooks.
    NumPy-only assignments run solved with torch blocked."""
    a = assignments.get(name)
    made = dist[name]
    shipped_path = alone(made.notebook, tmp_path, "shipped")
    shipped = run(nbformat.read(shipped_path, as_version=4), shipped_path.parent, colab_kernel, monkeypatch)
    checks = _check_outputs(shipped)
    assert set(checks) == {build.task_key(c.task) for c in a.checks if not c.hidden}
    for task, text in checks.items():
        assert "NotImplementedError: Task" in text or "missing from the submission" in text, (task, text[:500])
        assert "ModuleNotFoundError" not in text and "Error at line" in text
    assert "Upload the zip above to Gradescope" in outputs(shipped.cells[-1]), outputs(shipped.cells[-1])
    (shipped_zip,) = shipped_path.parent.glob(f"{name}_*.zip")

    solved_dir = tmp_path / "solved"
    solved_dir.mkdir()
    solved = solved_notebook(name, made.student)
    if a.submission_files:  # the study's files, as the reference run wrote them (not re-run here)
        for f in a.submission_files:
            shutil.copy(mnist_study_run[0] / f, solved_dir / f)
        solved.cells = [c for c in solved.cells if "results = run_study()" not in c.source]
    nbformat.write(solved, solved_dir / f"{name}.ipynb")
    monkeypatch.setenv("FAKE_COLAB_NOTEBOOK", str(solved_dir / f"{name}.ipynb"))
    numpy_only = not _imports_torch(a.solution)
    solved = run(solved, solved_dir, colab_kernel, monkeypatch, colab=True, torch=not numpy_only)
    for task, text in _check_outputs(solved).items():
        assert "passed" in text and "Error" not in text, (task, text[:500])
    said = outputs(solved.cells[-1])
    assert "Your browser is downloading it: upload it to Gradescope" in said, said
    (downloaded,) = (solved_dir / "downloads.txt").read_text().split()
    with zipfile.ZipFile(downloaded) as z:
        assert sorted(z.namelist()) == sorted([f"{name}.ipynb", *a.submission_files])

    graded = {r.submission: r for r in batch.grade_all(name, [shipped_zip, Path(downloaded)], tmp_path / "graded",
                                                         progress=False)}
    assert graded[Path(downloaded).stem].score == a.total, graded[Path(downloaded).stem]
    assert graded[shipped_zip.stem].score == 0
