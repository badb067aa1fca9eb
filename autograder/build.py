"""Generate the student stub notebook from the reference solution (the single source of truth).

The solution is a percent-format Python file (``# %%`` cells, read with jupytext). Steps:
  1. read the solution into notebook cells;
  2. in code cells, replace each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` region by
     ``raise NotImplementedError("Task X: implement <function>")`` (task from the assignment);
  3. in markdown cells, replace ``<!-- BEGIN SOLUTION -->`` regions by an answer placeholder;
  4. write a clean nbformat v4 notebook with stable cell ids, so regeneration is byte-stable.
"""
import json
import re
import shutil
from pathlib import Path
from typing import NamedTuple

import nbformat

from . import python_command, templating

CODE_BEGIN, CODE_END = "# BEGIN SOLUTION", "# END SOLUTION"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
ANSWER_PLACEHOLDER = "*Type your answer here, replacing this line.*"
DEF_RE = re.compile(r"^(\s*)def\s+(\w+)\s*\(")
CLASS_RE = re.compile(r"^(\s*)class\s+(\w+)\b")


class BuildError(ValueError):
    pass


def _indent(line):
    return len(line) - len(line.lstrip())


def enclosing_function(lines, index):
    """Qualified name ("fit_GD", "MLP.forward") of the function holding line ``index``, or None
    when the line is at module or class level."""
    indent = _indent(lines[index])
    for j in range(index - 1, -1, -1):
        if not lines[j].strip():
            continue
        if CLASS_RE.match(lines[j]) and _indent(lines[j]) < indent:
            return None  # class level: no function encloses the line
        m = DEF_RE.match(lines[j])
        if m and len(m.group(1)) < indent:
            def_indent = len(m.group(1))
            for k in range(j - 1, -1, -1):
                c = CLASS_RE.match(lines[k])
                if c and len(c.group(1)) < def_indent:
                    return f"{c.group(2)}.{m.group(2)}"
                if lines[k].strip() and _indent(lines[k]) < def_indent and not c:
                    break
            return m.group(2)
    return None


def strip_code(source, tasks_by_function):
    """Replace solution regions in one code cell with a NotImplementedError naming the task."""
    lines = source.split("\n")
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.strip() != CODE_BEGIN:
            if line.strip() == CODE_END:
                raise BuildError(f"{CODE_END} without {CODE_BEGIN}: {source[:60]!r}")
            out.append(line)
            i += 1
            continue
        fn = enclosing_function(lines, i)
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == CODE_END), None)
        if end is None:
            raise BuildError(f"{CODE_BEGIN} in {fn or 'top-level code'} is never closed")
        if fn is None:
            pass  # a helper of the solution's own at module or class level: left out of the stub
        elif fn not in tasks_by_function:
            raise BuildError(f"solution region in {fn} has no task: add it to the declaration's tasks")
        else:
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f'{indent}raise NotImplementedError("Task {tasks_by_function[fn]}: implement {fn}")')
        i = end + 1
    return "\n".join(out)


def strip_markdown(source):
    pattern = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), re.S)
    if source.count(MD_BEGIN) != source.count(MD_END):
        raise BuildError("unbalanced answer markers in a markdown cell")
    return pattern.sub(ANSWER_PLACEHOLDER, source)


def solution_notebook(path):
    """The solution file as a notebook, with metadata reduced to what Jupyter needs."""
    import jupytext  # here: grading, which imports this module, never reads py:percent files
    nb = jupytext.read(path, fmt="py:percent")
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    for i, cell in enumerate(nb.cells):
        cell.metadata = {}
        cell.id = f"cell-{i:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def stub_notebook(assignment):
    nb = solution_notebook(assignment.solution)
    by_function = {fn: task for task, fn in assignment.tasks.items()}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = strip_code(cell.source, by_function)
        elif cell.cell_type == "markdown":
            cell.source = strip_markdown(cell.source)
    nbformat.validate(nb)
    return nb


def notebook_text(nb) -> str:
    """A notebook as its .ipynb file holds it (nbformat 4, ending in a newline)."""
    return nbformat.writes(nb, version=4) + "\n"


def write_stub(assignment, path=None):
    """The stub notebook, and beside it the support modules the notebook imports."""
    path = Path(path or assignment.stub)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook_text(stub_notebook(assignment)), encoding="utf-8")
    for name, src in (assignment.support_files or {}).items():
        (path.parent / name).write_text(Path(src).read_text(encoding="utf-8"), encoding="utf-8")
    return path


def write_solution_notebook(assignment, path):
    """The reference as a notebook (for tests and example submissions)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook_text(solution_notebook(assignment.solution)), encoding="utf-8")
    return path


# -- dist/: the student handout and the otter autograder zip ------------------------------------

DIST = "dist"
OTTER_VERSION = "7.0.0"
TORCH_VERSION = "2.13.0"  # the CPU build (the zip's requirements name PyTorch's CPU index)
# The handout's generated cells and otter test files: file_templates/handout/.


def handout_text(template: str, **values) -> str:
    """A cell or file of the handout, from ``file_templates/handout/``, as the notebook holds it."""
    return templating.render(f"handout/{template}", **values).rstrip("\n")


def task_key(task):
    return "task_" + task.replace(".", "_")


def _defining_cell(nb, function):
    owner = function.split(".")[0]
    pattern = re.compile(rf"^(def|class)\s+{re.escape(owner)}\b", re.M)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and pattern.search(cell.source):
            return i
    raise BuildError(f"no cell defines {owner}")


def with_check_cells(nb, assignment, public_tasks):
    """The notebook with otter's init cell first and a grader.check cell after each task that
    has public checks."""
    nb = nbformat.from_dict(nb)  # a copy
    after = {}
    for task, fn in assignment.tasks.items():
        if task in public_tasks:
            after.setdefault(_defining_cell(nb, fn), []).append(task)
    cells = []
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    for i, cell in enumerate(nb.cells):
        if i == first_code:
            cells.append(nbformat.v4.new_code_cell(handout_text("init_cell.py.j2")))
        cells.append(cell)
        for task in after.get(i, []):
            cells.append(nbformat.v4.new_code_cell(f'grader.check("{task_key(task)}")'))
    files = list(assignment.submission_files)
    cells.append(nbformat.v4.new_markdown_cell(handout_text("submit.md.j2", name=assignment.name, files=files)))
    cells.append(nbformat.v4.new_code_cell(handout_text("submit_cell.py.j2", name=assignment.name, files=files)))
    nb.cells = cells
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"
    return nb


def otter_test_file(task, checks):
    """tests/task_X_Y.py in otter's exception format: each case runs one public check."""
    from .public import RUNNER
    return handout_text("otter_test.py.j2", name=task_key(task), points=sum(c.points for c in checks),
                        checks=checks, runner=RUNNER) + "\n"


def build_student(assignment, out):
    """dist/<name>/student/: notebook with check cells, support modules, public checks."""
    from . import grade, public
    student = Path(out) / "student"
    if student.exists():
        shutil.rmtree(student)
    student.mkdir(parents=True)
    ns = grade.load_reference(assignment)
    by_task = public.write_package(assignment, student, ns)
    (student / "tests").mkdir()
    for task, checks in by_task.items():
        (student / "tests" / f"{task_key(task)}.py").write_text(otter_test_file(task, checks))
    for name, src in (assignment.support_files or {}).items():
        shutil.copy(src, student / name)
    nb = with_check_cells(stub_notebook(assignment), assignment, by_task)
    (student / f"{assignment.name}.ipynb").write_text(notebook_text(nb), encoding="utf-8")
    return student, by_task


# The zip's files: file_templates/gradescope/ (requirements.txt, environment.yml, setup.sh, run_autograder).
ZIP_FILES = {"requirements.txt": "requirements.txt.j2", "environment.yml": "environment.yml.j2",
             "setup.sh": "setup.sh.j2", "run_autograder": "run_autograder.j2"}
EXECUTABLE = ("setup.sh", "run_autograder")


def zip_file(name: str) -> str:
    """One of the zip's generated files (``ZIP_FILES``), as written into it."""
    return templating.render(f"gradescope/{ZIP_FILES[name]}", otter_version=OTTER_VERSION,
                             torch_version=TORCH_VERSION)


def plugin_settings(assignment, call_timeout=None, no_sandbox=False, late_policy=None) -> dict:
    """The zip's settings for its grader (``gradescope.plugin_config`` reads them back)."""
    return {"assignment": assignment.name, **({"call_timeout": call_timeout} if call_timeout else {}),
            **({"no_sandbox": True} if no_sandbox else {}),
            **({"late_policy": late_policy.to_gradescope(assignment.name)} if late_policy else {})}


def build_zip(assignment, out, call_timeout=None, no_sandbox=False, late_policy=None):
    """dist/<name>/autograder.zip with otter generate: our plugin grades, tests/ stays empty.
    ``no_sandbox``: grade even where the grading machine cannot isolate student code.
    ``late_policy``: a ``course.late_policy.Policy`` whose penalty the zip applies to each
    submission against the dates in Gradescope's ``submission_metadata.json``."""
    import subprocess
    import sys
    import tempfile
    import zipfile

    from .assignments import REPO
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pkg = tmp / "dl_autograder"
        shutil.copytree(REPO / "autograder", pkg / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(assignment.solution.parent, pkg / "solutions" / assignment.name)
        shutil.copy(REPO / "pyproject.toml", pkg / "pyproject.toml")
        # The reference's answers recorded here (by `autograder check`), keyed by what they depend
        # on: the zip's grader uses them while its files and libraries are the same as here.
        from . import identity, reference_answers, sandbox
        key = reference_answers.answers_key(identity.grader_identity(assignment, sandbox.Limits()))
        shipped = reference_answers.ship(assignment, key, pkg)
        (tmp / "tests").mkdir()
        for name in ("requirements.txt", "environment.yml"):
            (tmp / name).write_text(zip_file(name))
        (tmp / "otter_config.json").write_text(json.dumps({
            "lang": "python", "show_stdout": False, "print_score": False,
            "plugins": [{"autograder.otter_plugin.EnginePlugin": plugin_settings(
                assignment, call_timeout, no_sandbox, late_policy)}]}, indent=2))
        raw = tmp / "raw.zip"
        subprocess.run(python_command.isolated("-m", "otter", "generate", "--overwrite-requirements",
                        "--python-version", "3.11", "-o", str(raw), "dl_autograder"),
                       cwd=tmp, check=True, capture_output=True)
        target = out / "autograder.zip"
        with zipfile.ZipFile(raw) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
            for item in src.infolist():
                if item.filename not in EXECUTABLE:
                    dst.writestr(item, src.read(item))
            # otter copies tests/ into the submission; ours is empty: the plugin grades.
            dst.writestr(zipfile.ZipInfo("tests/"), "")
            for name in EXECUTABLE:
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o755 << 16
                dst.writestr(info, zip_file(name))
    if shipped is None:
        print(f"autograder: {assignment.name}: no reference answers recorded for this grader (`autograder check "
              f"{assignment.name}` records them); the zip computes them on every submission", file=sys.stderr)
    return target


def build_notebook(assignment, out, student) -> Path:
    """dist/<name>/<name>.ipynb: the folder handout as one notebook (``single_notebook``)."""
    from . import single_notebook
    folder_nb = nbformat.read(student / f"{assignment.name}.ipynb", as_version=4)
    requires = single_notebook.requirements(OTTER_VERSION, assignment.kernel_packages)
    nb = single_notebook.single_notebook(folder_nb, assignment.name, student, requires)
    path = Path(out) / f"{assignment.name}.ipynb"
    path.write_text(notebook_text(nb), encoding="utf-8")
    return path


class Dist(NamedTuple):
    """What ``build_dist`` wrote in dist/<name>/."""
    student: Path  # the folder handout
    zip: Path  # the Gradescope autograder zip
    notebook: Path  # the single-notebook handout (Colab, JupyterHub, VS Code)


def build_dist(assignment, out=None, call_timeout=None, no_sandbox=False, late_policy=None) -> Dist:
    """dist/<name>/: the student handout (a folder, and the same as one notebook) and the
    Gradescope zip."""
    out = Path(out or Path(DIST) / assignment.name)
    out.mkdir(parents=True, exist_ok=True)
    student, _ = build_student(assignment, out)
    notebook = build_notebook(assignment, out, student)
    return Dist(student, build_zip(assignment, out, call_timeout, no_sandbox, late_policy), notebook)
