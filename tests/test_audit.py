"""`autograder audit`: the mutants it makes, the verdicts it gives, and the strength it reports
for gradient_descent (every mutant killed or reviewed as equivalent)."""
import ast
import dataclasses
from types import SimpleNamespace

import pytest

from autograder import assignments, audit, cli
from autograder.checking import Registry

SOURCE = '''\
import numpy as np


def score(X, w, b):
    """Toy graded function."""
    # BEGIN SOLUTION
    z = X @ w.T + b
    total = np.sum(z, axis=0, keepdims=True)
    if total[0, 0] > 1.5:
        total = -total
    for i in range(1, 4):
        total += z[:i].mean()
    return np.maximum(total, 0)
    # END SOLUTION


def untouched(x):
    return x + 1
'''


@pytest.fixture
def toy(tmp_path):
    path = tmp_path / "toy.py"
    path.write_text(SOURCE)
    return SimpleNamespace(name="toy", solution=path, tasks={"1.1": "score"}, graded_from_files=())


def test_each_classic_operator_makes_its_mutant_inside_the_solution_regions_only(toy):
    found = audit.mutants(toy)
    made = {(m.operator, m.after) for m in found}
    for operator, after in [
        ("arithmetic", "z = X @ w.T - b"),
        ("arithmetic", "z = X * w.T + b"),
        ("transpose", "z = X @ w + b"),
        ("function", "total = np.mean(z, axis=0, keepdims=True)"),
        ("axis", "total = np.sum(z, axis=1, keepdims=True)"),
        ("axis", "total = np.sum(z, axis=None, keepdims=True)"),
        ("keepdims", "total = np.sum(z, axis=0)"),
        ("comparison", "if total[0, 0] >= 1.5:"),
        ("constant", "if total[0, 0] > 3.0:"),
        ("sign", "total = total"),
        ("off by one", "for i in range(1 + 1, 4):"),
        ("off by one", "for i in range(1, 4 - 1):"),
        ("off by one", "total += z[:i - 1].mean()"),
        ("function", "total += z[:i].sum()"),
        ("argument order", "return np.maximum(0, total)"),
        ("statement dropped", "pass"),
    ]:
        assert (operator, after) in made, (operator, after, sorted(made))
    assert all(m.function == "score" and m.task == "1.1" for m in found)
    assert all(7 <= m.line <= 13 for m in found)  # never in untouched(), the markers or the docstring
    sources = [m.source for m in found]
    assert len(set(sources)) == len(sources) and SOURCE not in sources
    for m in found:
        ast.parse(m.source)
        changed = [i for i, (a, b) in enumerate(zip(SOURCE.split("\n"), m.source.split("\n"))) if a != b]
        assert changed == [m.line - 1], m  # a one-line bug


def test_tasks_graded_from_files_are_not_mutated():
    a = assignments.get("mnist_study")
    functions = {m.function for m in audit.mutants(a)}
    assert "run_study" not in functions and {"train", "evaluate", "plot_losses"} <= functions


@pytest.fixture(scope="module")
def gd_report():
    return audit.audit("gradient_descent", progress=False)


def test_gradient_descent_audit_kills_every_mutant_not_reviewed_as_equivalent(gd_report, capsys):
    r = gd_report
    assert r.tried >= 100
    assert r.survived == 0, [m.diff() for m in r.survivors]
    assert r.killed + r.equivalent == r.tried and not r.stale_equivalents
    by_after = {m.after: m for m in r.mutants}
    # The argument-order swaps the grader's symmetric stand-ins once let through are killed now.
    for after in ("loss = loss_func(Y, model(X, weight, bias))", "loss = loss_func(model(weight, X, bias), Y)",
                  "loss = loss_func(y_batch, model(x_batch, weight, bias))"):
        assert by_after[after].killed, by_after[after]
    assert all(t.tried for t in r.tasks.values()) and set(r.tasks) == set(assignments.get(
        "gradient_descent").tasks)
    audit.print_report(r)
    out = capsys.readouterr().out
    assert f"gradient_descent: {r.killed} of {r.tried - r.equivalent} mutants killed (100.0%)" in out


def test_a_weak_check_shows_its_survivors_as_one_line_diffs(monkeypatch, capsys):
    """With fit_numpy's value checks gone, the audit lists what slips through, each as one line."""
    a = assignments.get("gradient_descent")
    weak = Registry("gradient_descent",
                    [c for c in a.checks if c.function != "fit_numpy" or c.name == "test_fit_numpy_contract"])
    assert len(weak) < len(a.checks)
    b = dataclasses.replace(a, checks=weak)
    found = [m for m in audit.mutants(b) if m.function == "fit_numpy"]
    audit.grade_mutants(b, found, progress=False)
    r = audit.summarise(b, found, 0.0)
    assert r.survived > 0 and r.tasks["2.1"].survived == r.survived
    audit.print_report(r)
    out = capsys.readouterr().out
    assert "Survivors (each a bug that keeps full marks)" in out
    for m in r.survivors:
        line = next(ln for ln in out.splitlines() if m.diff() in ln)
        assert line.split()[:2] == ["2.1", "fit_numpy"] and f"[{m.operator}]" in line


def test_reviewed_list_entries_need_a_reason_and_stale_ones_are_reported(tmp_path, monkeypatch):
    a = assignments.get("gradient_descent")
    monkeypatch.setattr(type(a), "folder", property(lambda self: tmp_path))
    (tmp_path / audit.EQUIVALENT_FILE).write_text(
        '[[mutant]]\nfunction = "fit_GD"\nbefore = "x = 1"\nafter = "x = 2"\nreason = "made up"\n')
    r = audit.summarise(a, [], 0.0)
    assert r.stale_equivalents == [("fit_GD", "x = 1", "x = 2")]
    (tmp_path / audit.EQUIVALENT_FILE).write_text('[[mutant]]\nfunction = "fit_GD"\nbefore = "x = 1"\n'
                                                  'after = "x = 2"\n')
    with pytest.raises(assignments.DeclarationError, match="mutant #1 needs reason"):
        audit.reviewed(a)


def test_cli_audit_writes_the_report_as_json(tmp_path, capsys):
    import json
    assert cli.main(["audit", "gradient_descent", "--limit", "6", "--out", str(tmp_path), "-q"]) == 0
    data = json.loads((tmp_path / "audit_gradient_descent.json").read_text())
    assert data["tried"] == 6 and len(data["mutants"]) == 6
    assert all({"operator", "before", "after", "killed", "failed"} <= set(m) for m in data["mutants"])
    assert "gradient_descent: " in capsys.readouterr().out


GAPS = '''\
import numpy as np


def step(theta, grad, lr):
    """Toy graded function: a new theta."""
    # BEGIN SOLUTION
    return theta - lr * grad
    # END SOLUTION


def probs(Z, num_classes):
    """Toy graded function: stable softmax with a class count."""
    # BEGIN SOLUTION
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    out = np.zeros((len(Z), num_classes))
    out[:, :E.shape[1]] = E / E.sum(axis=1, keepdims=True)
    return out
    # END SOLUTION


class Model:
    def update(self, grads, lr):
        # BEGIN SOLUTION
        for k in self.params:
            self.params[k] -= lr * grads[k]
        # END SOLUTION
'''


def test_mutants_of_the_bugs_only_some_inputs_show(tmp_path):
    """In place (both ways), the max shift dropped and a class count from the labels: the bug
    classes third-party code slipped past checks with, made so the audit reports them."""
    path = tmp_path / "gaps.py"
    path.write_text(GAPS)
    a = SimpleNamespace(name="gaps", solution=path, tasks={"1.1": "step", "1.2": "probs", "1.3": "Model.update"},
                        graded_from_files=())
    made = {(m.operator, m.after) for m in audit.mutants(a)}
    assert ("in place", "theta -= lr * grad; return theta") in made
    assert ("in place", "self.params[k] = self.params[k] - (lr * grads[k])") in made
    assert ("unstable", "E = np.exp(Z)") in made
    assert ("classes from labels", "out = np.zeros((len(Z), (int(np.max(Z)) + 1)))") in made


def test_the_report_names_each_gap_class_and_whether_a_check_catches_it(capsys):
    linear = assignments.get("linear_classifier")
    found = [m for m in audit.mutants(linear) if m.operator in audit.GAP_CLASSES]
    assert {m.operator for m in found} == set(audit.GAP_CLASSES)
    audit.grade_mutants(linear, found, progress=False)
    report = audit.summarise(linear, found, 1.0)
    assert all(m.killed for m in found), [(m.diff(), m.failed) for m in found if not m.killed]
    assert "test_gd_step_values" in next(m for m in found if m.function == "gd_step").failed
    audit.print_report(report)
    out = capsys.readouterr().out
    assert "in place:" in out and "(arguments changed (or not) in place)" in out and "no check catches" not in out
