"""mlp_backprop: the messages its known bugs get (the verdicts of every assignment: test_verdicts.py)."""


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
