"""The stub is generated from the solution, committed in sync, and runs top to bottom."""
import os

import nbformat
import pytest
from nbclient import NotebookClient

from pathlib import Path

from autograder import assignments, build


@pytest.mark.parametrize("name", assignments.NAMES)
def test_committed_stubs_are_in_sync(name):
    a = assignments.get(name)
    expected = build.notebook_text(build.stub_notebook(a))
    assert a.stub.read_text(encoding="utf-8") == expected, f"{a.stub} is stale: run `autograder stub`"
    for support, src in (a.support_files or {}).items():
        assert (a.stub.parent / support).read_text() == Path(src).read_text(), f"{support} is stale"


def test_stub_has_no_solution_and_names_each_task(gd):
    text = gd.stub.read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "weight -= lr" not in text and "X.T @ residual" not in text
    for task, fn in gd.tasks.items():
        assert f'raise NotImplementedError(\\"Task {task}: implement {fn}\\")' in text
    # code given to students stays: the parameter creation of fit_GD and fit_BGD
    assert text.count("weight = torch.rand(size=(1,), requires_grad=True)") == 2


def test_unclosed_marker_is_an_error():
    with pytest.raises(build.BuildError):
        build.strip_code("def f():\n    # BEGIN SOLUTION\n    return 1\n", {"f": "1.1"})
    with pytest.raises(build.BuildError):
        build.strip_code("def g():\n    # BEGIN SOLUTION\n    x = 1\n    # END SOLUTION\n", {"f": "1.1"})


def _run(nb, tmp_path):
    saved = os.environ.get("MPLBACKEND")
    os.environ.setdefault("MPLBACKEND", "Agg")  # for this kernel only: later tests' kernels show plots
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        if saved is None:
            os.environ.pop("MPLBACKEND", None)
    return nb


@pytest.mark.parametrize("name", assignments.NAMES)
def test_stub_runs_top_to_bottom_and_reports_open_tasks(name, tmp_path):
    a = assignments.get(name)
    for support, src in (a.support_files or {}).items():
        (tmp_path / support).write_text(Path(src).read_text())
    nb = _run(nbformat.read(a.stub, as_version=4), tmp_path)  # raises on any cell error
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert ": implement " in printed


def test_solution_notebook_runs_top_to_bottom(gd, tmp_path):
    nb = _run(build.solution_notebook(gd.solution), tmp_path)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "NotImplementedError" not in printed and "final loss" in printed


def test_methods_are_named_with_their_class_and_helpers_are_dropped():
    src = ("class MLP:\n    def forward(self, X):\n        # BEGIN SOLUTION\n        return self._f(X)\n"
           "        # END SOLUTION\n\n    # BEGIN SOLUTION\n    def _f(self, X):\n        return X\n"
           "    # END SOLUTION\n")
    out = build.strip_code(src, {"MLP.forward": "3.2"})
    assert 'raise NotImplementedError("Task 3.2: implement MLP.forward")' in out
    assert "_f" not in out
