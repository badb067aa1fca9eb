"""`autograder check`: passes on every assignment, and fails, naming the check, what it got and
the file to fix, when a reference fails a hidden check, a check passes on the stub, a task has
no public check, or the committed stub is stale."""
import dataclasses

import numpy as np
import pytest

from autograder import assignments, cli, verify
from autograder.checking import Registry, assert_close


@pytest.mark.parametrize("name", assignments.NAMES)
def test_check_passes_on_every_assignment(name, capsys, mnist_study_run):
    assert verify.verify_assignment(name) == [], capsys.readouterr().out
    out = capsys.readouterr().out
    assert "FAIL" not in out and "reference earns every point" in out


@pytest.fixture
def planted(monkeypatch):
    """gradient_descent with two planted mistakes: a hidden check its reference fails, and a
    public check that tests nothing (the stub passes it)."""
    a = assignments.get("gradient_descent")
    registry = Registry("gradient_descent", a.checks)

    @registry.add(task="1.1", function="model", points=2, hidden=True)
    def test_model_planted_wrong_expectation(sub, ref):
        """model adds one (a wrong expectation, planted)."""
        args = (np.ones((3, 1), np.float32), np.array([2.0], np.float32), np.array([0.5], np.float32))
        import torch
        args = tuple(torch.tensor(x) for x in args)
        assert_close(sub.call("model", *args), ref.call("model", *args).array + 1, "model(...)")

    @registry.add(task="1.2", function="loss_func", points=1)
    def test_loss_planted_tests_nothing(sub, ref):
        """loss_func exists (tests nothing, planted)."""

    b = dataclasses.replace(a, checks=registry)
    monkeypatch.setattr(assignments, "get", lambda name: b)
    return b


def test_check_fails_and_names_the_check_what_it_got_and_the_file(planted, capsys):
    assert cli.main(["check", "gradient_descent"]) == 1
    out = capsys.readouterr()
    text = out.out
    line = next(ln for ln in text.splitlines() if "test_model_planted_wrong_expectation" in ln)
    assert "hidden, task 1.1, 0/2" in line and "the reference fails it: model(...): values are not close" in line
    assert "fix: autograder/assignments/gradient_descent/checks.py (the check) or " \
           "solutions/gradient_descent/gradient_descent.py (the reference)" in text
    line = next(ln for ln in text.splitlines() if "test_loss_planted_tests_nothing" in ln)
    assert "the stub earns 1 of its 1 point(s): it passes with loss_func not implemented" in line
    # 27 points of the real checks and the planted public one, not the planted hidden one's 2.
    assert "FAIL reference earns every point: 28/30" in text
    assert "check failed for gradient_descent" in out.err


def test_a_task_with_only_hidden_checks_is_reported(planted):
    thinned = Registry("gradient_descent", [c for c in planted.checks if not (c.task == "2.1" and not c.hidden)])
    problems = verify.coverage(dataclasses.replace(planted, checks=thinned))
    assert [p.check for p in problems] == ["task 2.1 (fit_numpy)"]
    assert "only hidden checks" in problems[0].got and "add a public contract or shape check" in problems[0].fix


def test_a_stale_stub_is_reported(tmp_path, monkeypatch):
    a = assignments.get("gradient_descent")
    stale = tmp_path / "gradient_descent.ipynb"
    stale.write_text(a.stub.read_text().replace("Task 1.3", "Task 1.9"))
    monkeypatch.setattr(type(a), "stub", property(lambda self: stale))
    problems = verify.stub_in_sync(a)
    assert len(problems) == 1 and "differs from what the solution generates" in problems[0].got
    assert "autograder stub gradient_descent" in problems[0].fix


def test_a_stale_support_module_beside_the_stub_is_reported(tmp_path, monkeypatch):
    """mnist_data.py beside the committed stub is a copy of runtime/data.py: an old copy is named."""
    a = assignments.get("mnist_study")
    folder = tmp_path / "mnist_study"
    folder.mkdir()
    (folder / "mnist_study.ipynb").write_text(a.stub.read_text())
    (folder / "mnist_data.py").write_text((a.stub.parent / "mnist_data.py").read_text() + "# an older copy\n")
    monkeypatch.setattr(type(a), "stub", property(lambda self: folder / "mnist_study.ipynb"))
    problems = verify.stub_in_sync(a)
    assert len(problems) == 1 and problems[0].got.endswith("mnist_data.py differs from the toolkit's copy it is "
                                                           "written from"), problems
    assert "autograder stub mnist_study" in problems[0].fix
