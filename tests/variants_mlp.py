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
