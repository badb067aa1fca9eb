"""The verdicts every assignment graded from variants must give (tests/variants*.py): the
reference full marks as .py and as .ipynb, the stub zero with each task's message, each known
bug losing at least the points of the checks meant to catch it, each correct alternative full
marks. The messages each assignment's bugs get are tested in its own file (test_<name>.py);
mnist_study, graded from folders of handed-in files, in test_mnist_study.py."""
import pytest

import variants
import variants_linear
import variants_mlp

# assignment: (its module of variants, the session fixture that grades them all in one batch)
BATCHES = {"gradient_descent": (variants, "gd_batch"), "mlp_backprop": (variants_mlp, "mlp_batch"),
           "linear_classifier": (variants_linear, "linear_batch")}
CASES = {"bug": [(name, bug) for name, (module, _) in BATCHES.items() for bug in sorted(module.BUGS)],
         "alt": [(name, alt) for name, (module, _) in BATCHES.items() for alt in sorted(module.ALTERNATIVES)]}


def graded(request, name):
    """{submission name: SubmissionResult} of the assignment's batch."""
    batch = request.getfixturevalue(BATCHES[name][1])
    return batch[0] if isinstance(batch, tuple) else batch


def failed(result):
    return {c.name for c in result.checks if c.score < c.points}


@pytest.mark.parametrize("name", BATCHES)
def test_reference_full_marks_py_and_ipynb(request, name):
    from autograder import assignments
    total = assignments.get(name).total
    for submission in ("reference", "reference_notebook"):
        r = graded(request, name)[submission]
        assert r.status == "ok", r.messages
        assert r.score == r.max_score == total, {c.name: c.output for c in r.checks if c.score < c.points}


@pytest.mark.parametrize("name", BATCHES)
def test_stub_scores_zero_with_task_messages(request, name):
    from autograder import assignments
    a = assignments.get(name)
    r = graded(request, name)["stub"]
    assert r.status == "ok" and r.score == 0 and r.max_score == a.total
    assert len(r.checks) == len(a.checks)
    for c in r.checks:
        assert f"NotImplementedError: Task {c.task}: implement {c.function}" in c.output, (c.name, c.output)
        assert "Internal grader error" not in c.output


@pytest.mark.parametrize("name, bug", CASES["bug"])
def test_each_bug_loses_the_points_of_its_checks(request, name, bug):
    module, _ = BATCHES[name]
    r = graded(request, name)[f"bug_{bug}"]
    assert r.status == "ok", r.messages
    must_fail = set(module.BUGS[bug][1])
    assert must_fail <= failed(r), f"{bug}: expected {must_fail} to fail, failed: {failed(r)}"
    lost = sum(c.points for c in r.checks if c.name in must_fail)
    assert r.score <= r.max_score - lost


@pytest.mark.parametrize("name, alt", CASES["alt"])
def test_correct_alternatives_earn_full_marks(request, name, alt):
    r = graded(request, name)[f"alt_{alt}"]
    assert r.score == r.max_score, {c.name: c.output for c in r.checks if c.score < c.points}
