"""Reading submissions: notebooks, magics, definitions-only loading, unreadable files."""
import ast
import json

import pytest

from autograder.runtime import loader


def nb(tmp_path, *cells):
    path = tmp_path / "s.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": c} for c in cells], "nbformat": 4,
                                "nbformat_minor": 5, "metadata": {}}))
    return path


def names(program):
    out = []
    for _, tree, _ in program:
        for node in tree.body if tree else []:
            out.append(ast.unparse(node).split("\n")[0])
    return out


def test_magics_and_shell_escapes_are_removed(tmp_path):
    program = loader.load_program(nb(tmp_path, "%matplotlib inline\nx = 1", "!pip install foo", "%%bash\nls",
                                     "%%time\ny = 2"))
    assert all(err is None for _, _, err in program)
    assert "x = 1" in names(program) and "y = 2" in names(program)


def test_definitions_only_keeps_what_functions_need(tmp_path):
    path = nb(tmp_path, "import torch\nLR = 0.1\nbase = make()\ncrit = wrap(base)\nunused = make()",
              "def f(x):\n    return crit(x) * LR", "f(1)\nwhile True:\n    pass", "class A:\n    pass")
    kept = names(loader.load_program(path, "definitions"))
    assert kept == ["import torch", "LR = 0.1", "base = make()", "crit = wrap(base)", "def f(x):", "class A:"]


def test_line_numbers_survive_filtering(tmp_path):
    program = loader.load_program(nb(tmp_path, "print(1)\n\ndef f():\n    pass"), "definitions")
    assert program[0][1].body[0].lineno == 3


def test_syntax_error_in_one_cell_is_reported_not_fatal(tmp_path):
    program = loader.load_program(nb(tmp_path, "def f(:\n  pass", "def g():\n    return 1"))
    assert program[0][1] is None and "SyntaxError" in program[0][2]
    assert program[1][2] is None


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not valid JSON"),
    (b'{"cells": 3}', "no 'cells' list"),
])
def test_broken_notebooks_raise_submission_error(tmp_path, content, message):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(loader.SubmissionError, match=message):
        loader.load_program(path)


def test_binary_py_is_rejected(tmp_path):
    path = tmp_path / "bad.py"
    path.write_bytes(b"\x7fELF\x00\x01")
    with pytest.raises(loader.SubmissionError, match="binary"):
        loader.load_program(path)


def test_lambdas_and_graded_names_bound_by_assignment_are_kept(tmp_path):
    """``accuracy = lambda ...`` is a definition; a graded name bound to a call
    (``functools.partial``) is kept because the grader names it; other work is not."""
    path = nb(tmp_path, "import functools\naccuracy = lambda y, p: (y == p).mean()\nresults = train()",
              "def _count(sizes, bias):\n    return sum(sizes) + bias\n\n"
              "count_params = functools.partial(_count, bias=1)")
    kept = names(loader.load_program(path, "definitions", keep={"count_params"}))
    assert kept == ["import functools", "accuracy = lambda y, p: (y == p).mean()", "def _count(sizes, bias):",
                    "count_params = functools.partial(_count, bias=1)"]
    assert "count_params = functools.partial(_count, bias=1)" not in names(loader.load_program(path, "definitions"))


def test_shell_escapes_assigned_or_continued_and_operator_continuations(tmp_path):
    program = loader.load_program(nb(tmp_path, "gpu_info = !nvidia-smi\nfiles = !ls\n"
                                     "!pip install torchinfo \\\n  seaborn",
                                     "ok = (1\n      != 2)\nrest = (7\n        % 4)", "\ufeffx = 3\r\ny = 4\r\n"))
    assert all(err is None for _, _, err in program), program
    kept = names(program)
    assert "gpu_info = get_ipython().getoutput('nvidia-smi')" in kept and "ok = 1 != 2" in kept
    assert "rest = 7 % 4" in kept and "y = 4" in kept
