"""Known bugs and correct alternatives for mlp_backprop, as edits of the reference."""
from autograder import assignments
from variants import variant_makers

SOLUTION = assignments.get("mlp_backprop").solution

BUGS = {
    "relu_mask_left_out": (
        [("MLP.gradients", "delta = (delta @ self.params[f\"W{i}\"].T) * (acts[i - 1] > 0)",
          "delta = delta @ self.params[f\"W{i}\"].T")],
        ["test_gradients_one_hidden_layer", "test_gradients_two_hidden_layers", "test_gradients_central_differences"]),
    "relu_mask_from_wrong_layer": (
        [("two_layer_backprop", "dS2 = (dS3 @ W2.T) * (S2 > 0)", "dS2 = (dS3 @ W2.T) * (S3 > 0)")],
        ["test_backprop_random_shapes"]),
    "mlp_relu_mask_from_wrong_layer": (
        [("MLP.gradients", "* (acts[i - 1] > 0)", "* (acts[i] > 0)")],
        ["test_gradients_one_hidden_layer", "test_gradients_two_hidden_layers"]),
    "missing_one_over_n": (
        [("MLP.gradients", "        delta /= n\n", "")],
        ["test_gradients_one_hidden_layer", "test_gradients_two_hidden_layers", "test_gradients_central_differences"]),
    "transposed_weight_gradient": (
        [("MLP.gradients", "grads[f\"W{i}\"] = acts[i - 1].T @ delta",
          "grads[f\"W{i}\"] = delta.T @ acts[i - 1]")],
        ["test_gradients_two_hidden_layers"]),
    "bias_gradient_wrong_axis": (
        [("MLP.gradients", "grads[f\"b{i}\"] = delta.sum(axis=0)", "grads[f\"b{i}\"] = delta.sum(axis=1)")],
        ["test_gradients_one_hidden_layer", "test_gradients_two_hidden_layers"]),
    "unstable_softmax": (
        [("MLP._forward", "                z = z - z.max(axis=1, keepdims=True)\n", "")],
        ["test_forward_stable_for_huge_logits"]),
    "activations_only_on_hidden_layers": (
        [("count_ops", "return int(sum(2 * a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])))",
          "return int(sum(2 * a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])) + sum(layer_sizes[1:-1]))")],
        ["test_count_ops_seed", "test_count_ops_hidden"]),
    "biases_left_out_of_params": (
        [("count_params", "return int(sum(a * b + b for", "return int(sum(a * b for")],
        ["test_count_params_seed", "test_count_params_hidden"]),
    "last_layer_gradients_only": (
        [("MLP.gradients", "            if i > 1:\n", "            break\n            if i > 1:\n")],
        ["test_gradients_one_hidden_layer", "test_gradients_two_hidden_layers"]),
    "returns_numpy_int_counts": (
        [("count_params", "return int(sum(", "return np.int64(sum(")],
        ["test_count_params_seed"]),
    # MLP.__init__'s scale and biases (He: normal, std sqrt(2 / fan_in), zero biases).
    "init_xavier_scale": (
        [("MLP.__init__", "np.sqrt(2.0 / n_in)", "np.sqrt(2.0 / (n_in + n_out))")],
        ["test_init_he_scale_zero_biases"]),
    "init_fixed_small_scale": (
        [("MLP.__init__", "np.sqrt(2.0 / n_in)", "0.01")],
        ["test_init_he_scale_zero_biases"]),
    "init_fan_out_scale": (
        [("MLP.__init__", "np.sqrt(2.0 / n_in)", "np.sqrt(2.0 / n_out)")],
        ["test_init_he_scale_zero_biases"]),
    "init_uniform_weights": (
        [("MLP.__init__", "rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))",
          "rng.uniform(-np.sqrt(6.0 / n_in), np.sqrt(6.0 / n_in), size=(n_in, n_out))")],
        ["test_init_he_scale_zero_biases"]),
    "init_nonzero_biases": (
        [("MLP.__init__", "np.zeros(n_out)", "rng.normal(0.0, 0.1, size=n_out)")],
        ["test_init_he_scale_zero_biases"]),
    # MLP.fit's shuffling, batching and history, as its docstring pins them down.
    "fit_shuffles_once": (
        [("MLP.fit", "        rng = np.random.default_rng(seed)\n",
          "        rng = np.random.default_rng(seed)\n        once = rng.permutation(len(X))\n"),
         ("MLP.fit", "order = rng.permutation(n) if", "order = once if")],
        ["test_fit_minibatch_shuffle_matches_reference"]),
    "fit_ignores_seed": (
        [("MLP.fit", "        rng = np.random.default_rng(seed)\n", "        rng = np.random.default_rng(0)\n")],
        ["test_fit_minibatch_shuffle_matches_reference"]),
    "fit_global_numpy_shuffle": (
        [("MLP.fit", "order = rng.permutation(n) if", "order = np.random.permutation(n) if")],
        ["test_fit_minibatch_shuffle_matches_reference"]),
    "fit_history_weighted_by_rows": (
        [("MLP.fit", "history.append(float(np.mean(losses)))",
          "history.append(float(np.average(losses, weights=[len(order[s:s + size]) for s in range(0, n, size)])))")],
        ["test_fit_minibatch_shuffle_matches_reference"]),
    "fit_drops_short_last_batch": (
        [("MLP.fit", "for start in range(0, n, size):", "for start in range(0, n - size + 1, size):")],
        ["test_fit_minibatch_shuffle_matches_reference"]),
    "fit_loss_recorded_after_step": (
        [("MLP.fit", "                losses.append(self.loss(X[idx], y[idx]))\n"
          "                self.step(self.gradients(X[idx], y[idx]), lr)\n",
          "                self.step(self.gradients(X[idx], y[idx]), lr)\n"
          "                losses.append(self.loss(X[idx], y[idx]))\n")],
        ["test_fit_full_batch_matches_reference", "test_fit_minibatch_shuffle_matches_reference"]),
    # NaN gradients: relative_error is NaN and "NaN > tol" is False; the checks must still fail.
    "nan_bias_gradients": (
        [("MLP.gradients", "grads[f\"b{i}\"] = delta.sum(axis=0)", "grads[f\"b{i}\"] = delta.sum(axis=0) * np.nan")],
        ["test_gradients_one_hidden_layer", "test_gradients_two_hidden_layers", "test_gradients_central_differences",
         "test_gradients_relu_derivative_at_zero"]),
    "backprop_nan_gradient": (
        [("two_layer_backprop", "    dW1 = X.T @ dS2\n", "    dW1 = X.T @ dS2 * np.nan\n")],
        ["test_backprop_worked_example", "test_backprop_random_shapes", "test_backprop_relu_derivative_at_zero"]),
    # ReLU's derivative at exactly 0 taken as 1 (the docstrings say 0, as torch.relu's backward).
    "output_relu_derivative_one_at_zero": (
        [("two_layer_backprop", "dS3 = (Y3 - T) * (S3 > 0)", "dS3 = (Y3 - T) * (S3 >= 0)")],
        ["test_backprop_relu_derivative_at_zero"]),
    "mlp_relu_derivative_one_at_zero": (
        [("MLP.gradients", "* (acts[i - 1] > 0)",
          "* ((acts[i - 2] @ self.params[f\"W{i - 1}\"] + self.params[f\"b{i - 1}\"]) >= 0)")],
        ["test_gradients_relu_derivative_at_zero"]),
    # NumPy only (Parts 1 to 3), and step updating the arrays in place.
    "count_params_with_torch": (
        [("count_params", "return int(sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])))",
          "layers = [nn.Linear(a, b) for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]\n"
          "    return int(sum(p.numel() for layer in layers for p in layer.parameters()))")],
        ["test_count_params_seed", "test_count_params_hidden"]),
    "count_ops_torch_caught": (  # falls back to NumPy when torch fails: still a use of torch
        [("count_ops", "    return int(sum(2 * a * b + b for",
          "    try:\n        torch.zeros(1)\n    except Exception:\n        pass\n"
          "    return int(sum(2 * a * b + b for")],
        ["test_count_ops_seed", "test_count_ops_hidden"]),
    "softmax_with_torch": (
        [("MLP._forward", "                e = np.exp(z)\n"
          "                acts.append(e / e.sum(axis=1, keepdims=True))\n",
          "                acts.append(torch.softmax(torch.from_numpy(z), dim=1).numpy())\n")],
        ["test_forward_one_hidden_layer", "test_forward_two_hidden_layers", "test_loss_equals_cross_entropy",
         "test_gradients_one_hidden_layer"]),
    "step_rebinds_arrays": (
        [("MLP.step", "self.params[k] -= lr * grads[k]", "self.params[k] = self.params[k] - lr * grads[k]")],
        ["test_step_mutates_arrays_in_place"]),
}

ALTERNATIVES = {
    "einsum_and_loops": [
        ("two_layer_backprop", "dW2 = Y2.T @ dS3", "dW2 = np.einsum('ni,nj->ij', Y2, dS3)"),
        ("two_layer_backprop", "dW1 = X.T @ dS2",
         "dW1 = np.array([[sum(X[n, i] * dS2[n, j] for n in range(len(X))) for j in range(W1.shape[1])]\n"
         "                    for i in range(W1.shape[0])])"),
        ("MLP.gradients", "grads[f\"W{i}\"] = acts[i - 1].T @ delta",
         "grads[f\"W{i}\"] = np.einsum('nk,nj->kj', acts[i - 1], delta)")],
    "log_sum_exp_softmax": [
        ("MLP._forward", "                z = z - z.max(axis=1, keepdims=True)\n                e = np.exp(z)\n"
         "                acts.append(e / e.sum(axis=1, keepdims=True))\n",
         "                m = z.max(axis=1, keepdims=True)\n"
         "                lse = m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))\n"
         "                acts.append(np.exp(z - lse))\n")],
    "cache_in_attributes": [
        ("MLP.forward", "        return self._forward(X)[-1]\n",
         "        self.cache = self._forward(X)\n        return self.cache[-1]\n"),
        ("MLP.gradients", "        acts = self._forward(X)\n", "        self.forward(X)\n        acts = self.cache\n")],
}


reference_text, bug_variant, alternative_variant = variant_makers(SOLUTION, BUGS, ALTERNATIVES)
