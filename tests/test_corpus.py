"""Notebooks as students hand them in (``corpus.py``: Colab, JupyterLab 4, classic Jupyter, VS Code,
jupytext, zips from a Mac, each with the mess those leave) earn exactly what their graded code
deserves: a task whose function does what the reference does (found by running it beside the
reference, outside the grader) earns every point, a task with a bug loses points, whatever
surrounds the code."""
import json

import pytest

import corpus
from autograder import assignments, batch


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    labels = corpus.write(out)
    found = {}
    for name in labels:
        results = batch.grade_all(name, [out / name], tmp_path_factory.mktemp(f"graded-{name}"), progress=False)
        found[name] = {r.submission: r for r in results}
    return labels, found


@pytest.mark.parametrize("name", ["gradient_descent", "linear_classifier"])
def test_every_case_earns_what_its_code_deserves(graded, name):
    labels, found = graded
    a = assignments.get(name)
    task_of = {fn: task for task, fn in a.tasks.items()}
    assert sorted(found[name]) == sorted(labels[name])
    wrong = []
    for case, label in labels[name].items():
        r = found[name][case]
        for fn, correct in label["correct"].items():
            checks = [c for c in r.checks if c.task == task_of[fn]]
            lost = sum(c.points - c.score for c in checks)
            if correct and lost:
                wrong.append(f"{case}: {fn} is correct but lost {lost:g}: "
                             + "; ".join(c.output.split("\n")[0] for c in checks if c.score < c.points))
            if not correct and not lost:
                wrong.append(f"{case}: {fn} has a bug but kept full marks")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", ["gradient_descent", "linear_classifier"])
def test_the_bugs_are_there_and_the_corpus_covers_every_style(graded, name):
    """(The labels are not all "correct": the corpus holds bugs the grader must find.)"""
    labels, _ = graded
    assert {label["style"] for label in labels[name].values()} == set(corpus.styles(name))
    assert any(not all(label["correct"].values()) for label in labels[name].values())


def test_what_failed_while_loading_is_named_once_with_its_place(graded):
    _, found = graded
    r = found["gradient_descent"]["colab__reference"]
    text = "\n".join(r.messages)
    assert "cell 2, line 1 was skipped: ModuleNotFoundError: No module named 'google'" in text, text
    assert text.count("No module named 'google'") == 1
    assert "was skipped: ModuleNotFoundError: No module named 'torchvision'" in text
    vscode = "\n".join(found["gradient_descent"]["vscode__reference"].messages)
    assert "was skipped: " in vscode and "CUDA" in vscode, vscode


def test_the_labels_come_from_running_the_code_not_from_the_grader(tmp_path):
    """A label changes when the code changes, with no grader involved."""
    import variants
    assert corpus.label("gradient_descent", variants.reference_text(), "ref")["fit_GD"] is True
    assert corpus.label("gradient_descent", variants.bug_variant("no_gradient_zeroing"), "bug")["fit_GD"] is False
    written = json.loads((corpus.write(tmp_path) and (tmp_path / "labels.json")).read_text())
    assert set(written) == {"gradient_descent", "linear_classifier"}


def test_future_imports_hold_for_later_cells_and_top_level_input_never_runs(graded):
    """classic: `from __future__ import annotations` in the first cell lets a later cell's hint
    name a class defined further down (as in a Jupyter session); `input()` at the top level is
    not a definition and never runs (it would wait for ever)."""
    _, found = graded
    r = found["gradient_descent"]["classic__reference"]
    assert not any("Later" in m or "input" in m for m in r.messages), r.messages
    assert r.score == r.max_score
