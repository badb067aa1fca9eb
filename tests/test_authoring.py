"""The README's "Authoring an assignment" section, followed to the letter in a copy of the
repository: its files written as shown, its commands run as shown. If the section goes stale,
this fails."""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from autograder import assignments, build

REPO = assignments.REPO
README = REPO / "README.md"


def section():
    text = README.read_text()
    start = text.index("## Authoring an assignment")
    return text[start:text.index("\n## ", start + 10)]


def documented_files(text):
    """{path: content} of the section's code blocks that start with a `# file: <path>` line."""
    return {m.group(2): m.group(3) for m in re.finditer(r"```(\w+)\n# file: (\S+)\n(.*?)```", text, re.S)}


def documented_commands(text):
    block = re.search(r"\*\*4\. Stub, check, grade, build, audit\.\*\*\s*```bash\n(.*?)```", text, re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A fresh copy of the toolkit (no assignment of the README's yet), as a newcomer's clone."""
    root = tmp_path_factory.mktemp("clone")
    shutil.copytree(REPO / "autograder", root / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root)
    return root


def run(root, command, timeout=900):
    argv = shlex.split(command)
    tool = {"autograder": [sys.executable, "-m", "autograder.cli"], "otter": [sys.executable, "-m", "otter"],
            "mkdir": ["mkdir"]}
    argv = tool[argv[0]] + argv[1:]
    env = {**os.environ, "PYTHONPATH": str(root)}  # this copy's toolkit, not the installed one
    return subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_documented_steps_make_an_assignment_that_stubs_checks_grades_builds_and_runs_in_otter(copy):
    text = section()
    files = documented_files(text)
    assert set(files) == {"solutions/vectors/vectors.py", "autograder/assignments/vectors/__init__.py",
                          "autograder/assignments/vectors/checks.py"}
    for path, content in files.items():
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        (copy / path).write_text(content)
    outputs = {}
    for command in documented_commands(text):
        proc = run(copy, command)
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        outputs[command.split()[1]] = proc.stdout + proc.stderr
    assert (copy / "assignments/vectors/vectors.ipynb").is_file()
    assert "FAIL" not in outputs["check"] and "reference earns every point: 4/4" in outputs["check"]
    stub = json.loads((copy / "graded-vectors/vectors/results.json").read_text())
    assert stub["score"] == 0 and len(stub["tests"]) == 3
    assert all("NotImplementedError: Task 1." in t["output"] for t in stub["tests"] if t["visibility"] == "visible")
    assert (copy / "dist/vectors/autograder.zip").is_file()
    handout = (copy / "dist/vectors/student/vectors.ipynb").read_text()
    assert 'grader.check(\\"task_1_1\\")' in handout and 'grader.check(\\"task_1_2\\")' in handout
    assert "make_submission(grader, " in handout  # the last cell makes the submission zip
    otter = json.loads((copy / "otter-vectors/results.json").read_text())
    assert otter["score"] == 0 and otter["tests"], otter
    assert re.search(r"vectors: \d+ of \d+ mutants killed", outputs["audit"]), outputs["audit"]

    # The reference, handed in as a notebook, earns every point through otter too.
    reference = _reference_notebook(copy)
    (copy / "otter-reference").mkdir()
    proc = run(copy, f"otter run -a dist/vectors/autograder.zip -o otter-reference {reference}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((copy / "otter-reference/results.json").read_text())["score"] == 4


def _reference_notebook(root):
    nb = build.solution_notebook(root / "solutions/vectors/vectors.py")
    path = root / "reference" / "vectors.ipynb"
    path.parent.mkdir()
    path.write_text(build.notebook_text(nb))
    return path.relative_to(root)


@pytest.mark.parametrize("mistake, message", [
    ("ASSIGNMENT = Assignment(manual={})", "field 'tasks' is required"),
    ('ASSIGNMENT = Assignment(tasks={"1.1": "normalize"}, load_mode="everything")',
     "field 'load_mode' must be one of 'definitions', 'all'"),
    ('ASSIGNMENT = Assignment(tasks={"1.1": "normalize"}, timebudget=5)', "field 'timebudget' is not a field"),
    ('ASSIGNMENT = Assignment(tasks={"one": "normalize"})', "has task id 'one'"),
    ('TASKS = {"1.1": "normalize"}', "declares no ASSIGNMENT"),
    ('ASSIGNMENT = Assignment(tasks={"1.1": "normalize"})', "check test_relu_values is for task '1.2'"),
])
def test_a_wrong_declaration_names_the_field_and_the_file(copy, mistake, message):
    files = documented_files(section())
    for path, content in files.items():
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        (copy / path).write_text(content)
    (copy / "autograder/assignments/vectors/__init__.py").write_text(
        f"from autograder.assignments import Assignment\n\n{mistake}\n")
    proc = run(copy, "autograder check vectors")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "autograder/assignments/vectors/" in proc.stderr and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
