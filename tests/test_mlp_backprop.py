"""The mlp_backprop verdicts: reference full marks, stub zero, each bug caught, each
correct alternative full marks."""
import pytest

import variants_mlp


def failed(result):
    return {c.name for c in result.checks if c.score < c.points}


def test_reference_full_marks_py_and_ipynb(mlp_batch, mlp):
    for name in ("reference", "reference_notebook"):
        r = mlp_batch[name]
        assert r.status == "ok", r.messages
        assert r.score == r.max_score == mlp.total, {c.name: c.output for c in r.checks if c.score < c.points}


def test_stub_scores_zero_with_task_messages(mlp_batch, mlp):
    r = mlp_batch["stub"]
    assert r.status == "ok" and r.score == 0
    for c in r.checks:
        assert f"NotImplementedError: Task {c.task}: implement {c.function}" in c.output, (c.name, c.output)


@pytest.mark.parametrize("bug", sorted(variants_mlp.BUGS))
def test_each_bug_loses_the_points_of_its_checks(mlp_batch, bug):
    r = mlp_batch[f"bug_{bug}"]
    must_fail = set(variants_mlp.BUGS[bug][1])
    assert must_fail <= failed(r), f"{bug}: expected {must_fail} to fail, failed: {failed(r)}"


@pytest.mark.parametrize("alt", sorted(variants_mlp.ALTERNATIVES))
def test_correct_alternatives_earn_full_marks(mlp_batch, alt):
    r = mlp_batch[f"alt_{alt}"]
    assert r.score == r.max_score, {c.name: c.output for c in r.checks if c.score < c.points}


def test_seed_figures_and_messages(mlp_batch):
    r = mlp_batch["bug_biases_left_out_of_params"]
    msg = next(c.output for c in r.checks if c.name == "test_count_params_seed")
    assert msg == "count_params([784, 512, 512, 10]): expected 669706, got 668672"
    r = mlp_batch["bug_unstable_softmax"]
    msg = next(c.output for c in r.checks if c.name == "test_forward_stable_for_huge_logits")
    assert "overflows" in msg
    r = mlp_batch["bug_missing_one_over_n"]
    msg = next(c.output for c in r.checks if c.name == "test_gradients_one_hidden_layer")
    assert "relative error" in msg and "allowed 1e-07" in msg
