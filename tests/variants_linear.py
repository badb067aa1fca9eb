"""Known bugs and correct alternatives for linear_classifier, as edits of the reference."""
from autograder import assignments
from variants import variant_makers

SOLUTION = assignments.get("linear_classifier").solution

STABLE_SIGMOID = ("    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows\n"
                  "    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))\n")
SOFTMAX = ("    E = np.exp(Z - Z.max(axis=1, keepdims=True))\n"
           "    return E / E.sum(axis=1, keepdims=True)\n")
CCE = "    return float(-np.sum(Y * np.log(P)) / Y.shape[0])\n"
GRADIENT = "    return Xb.T @ (predict_proba(Xb, theta) - Y) / m\n"
RECORD = "        losses[epoch] = loss(Y, predict_proba(Xb, theta))\n"
UPDATE = ("        if mode == \"batch\":\n            theta = gd_step(Xb, Y, theta, lr)\n"
          "        else:\n            theta = sgd_epoch(Xb, Y, theta, lr, batch_size, rng)\n")

BUGS = {
    # name: (edits, checks that must fail)
    "gradient_without_one_over_m": (
        [("gradient", GRADIENT, "    return Xb.T @ (predict_proba(Xb, theta) - Y)\n")],
        ["test_gradient_binary_central_differences", "test_gradient_multiclass_central_differences",
         "test_gradient_matches_reference", "test_gd_step_values", "test_sgd_epoch_uses_every_row_once",
         "test_train_batch_curve"]),
    "softmax_without_max_subtraction": (
        [("softmax", "E = np.exp(Z - Z.max(axis=1, keepdims=True))", "E = np.exp(Z)")],
        ["test_softmax_stable", "test_predict_proba_huge_scores"]),
    "softmax_minus_global_max": (
        [("softmax", "Z.max(axis=1, keepdims=True)", "Z.max()")],
        ["test_softmax_stable"]),
    "cross_entropy_indexing_wrong": (  # labels taken out of the one-hot rows, then indexed as columns
        [("categorical_cross_entropy", CCE,
          "    labels = Y.argmax(axis=1)\n    return float(-np.mean(np.log(P[:, labels])))\n")],
        ["test_cce_values", "test_cce_hidden"]),
    "labels_not_one_hot": (  # integer labels handed to train as one column: a "binary" classifier
        [("train_image_classifier", "    return train(image_features(images), one_hot(labels, 10),",
          "    return train(image_features(images), labels.reshape(-1, 1),")],
        ["test_image_classifier_contract", "test_image_classifier_matches_reference",
         "test_image_classifier_accuracy"]),
    "bias_column_forgotten": (
        [("train", "    Xb = add_bias_term(X)\n", "    Xb = np.asarray(X, dtype=np.float64)\n"),
         ("predict", "predict_proba(add_bias_term(X), theta)", "predict_proba(X, theta)")],
        ["test_train_contract", "test_train_batch_curve", "test_train_stochastic_curve", "test_train_learns",
         "test_predict_multiclass", "test_predict_binary_threshold", "test_image_classifier_contract",
         "test_image_classifier_accuracy"]),
    "bias_column_last": (
        [("add_bias_term", "np.concatenate([np.ones((X.shape[0], 1)), X], axis=1)",
          "np.concatenate([X, np.ones((X.shape[0], 1))], axis=1)")],
        ["test_add_bias_term_values", "test_add_bias_term_other_shapes"]),
    "sgd_never_shuffles": (
        [("sgd_epoch", "    order = rng.permutation(m)\n", "    order = np.arange(m)\n")],
        ["test_sgd_epoch_shuffles_with_rng", "test_sgd_epoch_matches_reference", "test_train_stochastic_curve",
         "test_image_classifier_matches_reference"]),
    "sgd_reuses_one_sample": (
        [("sgd_epoch", "idx = order[start:start + batch_size]", "idx = order[:batch_size]")],
        ["test_sgd_epoch_uses_every_row_once", "test_sgd_epoch_matches_reference", "test_train_stochastic_curve",
         "test_image_classifier_matches_reference"]),
    "sgd_global_random": (  # shuffles, but with np.random instead of the rng it is given
        [("sgd_epoch", "    order = rng.permutation(m)\n", "    order = np.random.permutation(m)\n")],
        ["test_sgd_epoch_shuffles_with_rng", "test_sgd_epoch_matches_reference", "test_train_stochastic_curve"]),
    "sigmoid_unstable": (
        [("sigmoid", STABLE_SIGMOID, "    return 1.0 / (1.0 + np.exp(-z))\n")],
        ["test_sigmoid_stable"]),
    "step_wrong_sign": (
        [("gd_step", "return theta - lr * gradient(Xb, Y, theta)", "return theta + lr * gradient(Xb, Y, theta)")],
        ["test_gd_step_values", "test_gd_step_descends", "test_sgd_epoch_uses_every_row_once",
         "test_sgd_epoch_shuffles_with_rng", "test_train_batch_curve", "test_train_learns",
         "test_image_classifier_accuracy"]),
    "one_hot_from_largest_label": (  # the seed's np.eye(np.max(y) + 1)[y]
        [("one_hot", "Y = np.zeros((y.shape[0], num_classes))", "Y = np.zeros((y.shape[0], y.max() + 1))")],
        ["test_one_hot_absent_classes"]),
    "bce_sum_instead_of_mean": (
        [("binary_cross_entropy", "return float(-np.mean(", "return float(-np.sum(")],
        ["test_bce_values", "test_bce_hidden"]),
    "loss_recorded_after_update": (
        [("train", RECORD + UPDATE, UPDATE + RECORD)],
        ["test_train_batch_curve", "test_train_stochastic_curve"]),
    "predict_threshold_strict": (
        [("predict", "P[:, 0] >= 0.5", "P[:, 0] > 0.5")],
        ["test_predict_binary_threshold"]),
    "accuracy_broadcasts": (
        [("accuracy", "np.ravel(y_true) == np.ravel(y_pred)", "y_true == y_pred")],
        ["test_accuracy_column_labels"]),
    "features_not_scaled": (
        [("image_features", ".astype(np.float64) / 255.0", ".astype(np.float64)")],
        ["test_image_features_shape_and_scale", "test_image_features_hidden",
         "test_image_classifier_matches_reference"]),
    # Classes of bug third-party implementations showed (issue 21).
    "gd_step_changes_theta_in_place": (
        [("gd_step", "    return theta - lr * gradient(Xb, Y, theta)\n",
          "    theta -= lr * gradient(Xb, Y, theta)\n    return theta\n")],
        ["test_gd_step_values"]),
    "gradient_classes_from_labels": (  # K taken from the labels present, not from theta
        [("gradient", GRADIENT,
          "    K = int(Y.argmax(axis=1).max()) + 1 if Y.shape[1] > 1 else 1\n"
          "    return Xb.T @ (predict_proba(Xb, theta)[:, :K] - Y[:, :K]) / m\n")],
        ["test_gradient_matches_reference"]),
    "gradient_unshifted_softmax": (  # its own softmax, without subtracting the row maximum
        [("gradient", GRADIENT,
          "    Z = Xb @ theta\n"
          "    if theta.shape[1] == 1:\n        P = 1.0 / (1.0 + np.exp(-Z))\n"
          "    else:\n        E = np.exp(Z)\n        P = E / E.sum(axis=1, keepdims=True)\n"
          "    return Xb.T @ (P - Y) / m\n")],
        ["test_gradient_matches_reference"]),
    "predict_bias_column_last": (
        [("predict", "predict_proba(add_bias_term(X), theta)",
          "predict_proba(np.concatenate([X, np.ones((len(X), 1))], axis=1), theta)")],
        ["test_predict_multiclass", "test_predict_binary_threshold"]),
    "gradient_with_torch": (
        [("gradient", GRADIENT,
          "    import torch\n"
          "    P = torch.tensor(predict_proba(Xb, theta))\n"
          "    return (torch.tensor(Xb).T @ (P - torch.tensor(Y))).numpy() / m\n")],
        ["test_gradient_multiclass_central_differences"]),
}

ALTERNATIVES = {
    # float32 weights from the digit classifier: its contract gives shapes only (train's checks
    # charge train's dtype), so the float32 run is graded with a float32 tolerance.
    "image_classifier_float32": [
        ("train_image_classifier", "    return train(image_features(images), one_hot(labels, 10), lr, num_epochs,",
         "    theta, losses = train(image_features(images), one_hot(labels, 10), lr, num_epochs,"),
        ("train_image_classifier", "                 batch_size=batch_size, seed=seed)\n",
         "                 batch_size=batch_size, seed=seed)\n    return theta.astype(np.float32), "
         "losses.astype(np.float32)\n")],
    "sigmoid_logaddexp": [("sigmoid", STABLE_SIGMOID, "    return np.exp(-np.logaddexp(0.0, -z))\n")],
    "softmax_log_sum_exp": [
        ("softmax", SOFTMAX,
         "    top = Z.max(axis=1, keepdims=True)\n"
         "    lse = top + np.log(np.exp(Z - top).sum(axis=1, keepdims=True))\n"
         "    return np.exp(Z - lse)\n")],
    "one_hot_by_comparison_and_c_": [
        ("one_hot", "    Y = np.zeros((y.shape[0], num_classes))\n"
                    "    Y[np.arange(y.shape[0]), y] = 1.0\n    return Y\n",
         "    return (y[:, None] == np.arange(num_classes)).astype(np.float64)\n"),
        ("add_bias_term", "np.concatenate([np.ones((X.shape[0], 1)), X], axis=1)",
         "np.c_[np.ones((X.shape[0], 1)), X]")],
    "cce_by_label_indexing": [
        ("categorical_cross_entropy", CCE,
         "    labels = Y.argmax(axis=1)\n"
         "    return float(-np.mean(np.log(P[np.arange(Y.shape[0]), labels])))\n")],
    "gradient_einsum": [
        ("gradient", GRADIENT, "    return np.einsum('mi,mk->ik', Xb, predict_proba(Xb, theta) - Y) / m\n")],
    "sgd_shuffle_in_place_and_slices": [
        ("sgd_epoch", "    order = rng.permutation(m)\n", "    order = np.arange(m)\n    rng.shuffle(order)\n"),
        ("sgd_epoch", "        idx = order[start:start + batch_size]\n"
                      "        theta = gd_step(Xb[idx], Y[idx], theta, lr)\n",
         "        Xs, Ys = Xb[order], Y[order]\n"
         "        theta = gd_step(Xs[start:start + batch_size], Ys[start:start + batch_size], theta, lr)\n")],
    "train_list_losses_and_prints": [
        ("train", "    losses = np.zeros(num_epochs)\n", "    losses = []\n"),
        ("train", RECORD, "        losses.append(loss(Y, predict_proba(Xb, theta)))\n"
                          "        print(f'epoch {epoch}: loss {losses[-1]:.4f}')\n"),
        ("train", "    return theta, losses\n", "    return theta, np.array(losses)\n")],
    "predict_from_scores": [
        ("predict", "    P = predict_proba(add_bias_term(X), theta)\n    if theta.shape[1] == 1:\n"
                    "        return (P[:, 0] >= 0.5).astype(np.int64)\n    return P.argmax(axis=1)\n",
         "    scores = add_bias_term(X) @ theta\n    if theta.shape[1] == 1:\n"
         "        return (scores[:, 0] >= 0).astype(int)\n    return np.argmax(scores, axis=1)\n")],
    "accuracy_by_counting": [
        ("accuracy", "    return float(np.mean(np.ravel(y_true) == np.ravel(y_pred)))\n",
         "    a, b = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)\n"
         "    return sum(int(u == v) for u, v in zip(a, b)) / len(a)\n")],
}


reference_text, bug_variant, alternative_variant = variant_makers(SOLUTION, BUGS, ALTERNATIVES)
