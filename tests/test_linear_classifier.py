"""linear_classifier: every task has a public and a hidden check, and the messages that say what
went wrong (the verdicts of every assignment: test_verdicts.py)."""


def output(result, check):
    return next(c.output for c in result.checks if c.name == check)


def test_every_task_has_a_public_and_a_hidden_check(linear):
    for task in linear.tasks:
        kinds = {c.hidden for c in linear.checks if c.task == task}
        assert kinds == {False, True}, f"task {task}: {kinds}"


def test_messages_name_the_mistake(linear_batch):
    assert "sigmoid(-740) came out as 0" in output(linear_batch["bug_sigmoid_unstable"], "test_sigmoid_stable")
    msg = output(linear_batch["bug_softmax_without_max_subtraction"], "test_softmax_stable")
    assert "nan or inf" in msg and "maximum" in msg
    msg = output(linear_batch["bug_gradient_without_one_over_m"], "test_gradient_binary_central_differences")
    assert "central differences" in msg and "relative error" in msg
    msg = output(linear_batch["bug_sgd_reuses_one_sample"], "test_sgd_epoch_uses_every_row_once")
    assert "exactly once per epoch" in msg
    msg = output(linear_batch["bug_sgd_never_shuffles"], "test_sgd_epoch_shuffles_with_rng")
    assert "rng.permutation(m)" in msg
    msg = output(linear_batch["bug_gradient_with_torch"], "test_gradient_multiclass_central_differences")
    assert "used torch" in msg
    msg = output(linear_batch["bug_labels_not_one_hot"], "test_image_classifier_contract")
    assert "expected shape (785, 10), got (785, 1)" in msg


def test_the_threshold_hint_is_given_only_where_it_is_the_fault(linear_batch):
    """"A probability of exactly 0.5 counts as class 1" helps a strict threshold, and would mislead
    a submission whose bias column is last."""
    hint = "a probability of exactly 0.5 counts as class 1"
    assert hint in output(linear_batch["bug_predict_threshold_strict"], "test_predict_binary_threshold")
    assert hint not in output(linear_batch["bug_predict_bias_column_last"], "test_predict_binary_threshold")


def test_changing_theta_in_place_is_named(linear_batch):
    assert "changed the theta it was given" in output(linear_batch["bug_gd_step_changes_theta_in_place"],
                                                      "test_gd_step_values")
