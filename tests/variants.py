"""Known-bug and correct-alternative submissions, made by patching the reference solution.

Each variant is a list of (function, old, new) edits applied inside that function's source,
so a variant states exactly what it changes. ``BUGS`` maps a variant to the checks that must
fail for it; ``ALTERNATIVES`` must earn full marks.
"""
import re
from pathlib import Path

from autograder import assignments, build

SOLUTION = assignments.get("gradient_descent").solution


def function_span(text, name):
    """(start, end) of ``def name`` at top level, or of a method given as ``Class.method``."""
    if "." in name:
        cls, method = name.split(".")
        start, end = function_span(text, cls)
        m = re.compile(rf"^    def {method}\(", re.M).search(text, start, end)
        if not m:
            raise KeyError(f"no method {name}")
        nxt = re.compile(r"^(?:    )?\S", re.M).search(text, text.index("\n", m.end()) + 1, end)
        return m.start(), nxt.start() if nxt else end
    m = re.search(rf"^(?:def|class) {name}\b", text, re.M)
    if not m:
        raise KeyError(f"no function {name}")
    body = text.index("\n", m.end()) + 1
    nxt = re.compile(r"^\S", re.M).search(text, body)
    end = nxt.start() if nxt else len(text)
    return m.start(), end


def patch(text, edits):
    for function, old, new in edits:
        start, end = function_span(text, function)
        block = text[start:end]
        if old not in block:
            raise ValueError(f"variant edit does not apply to {function}: {old!r}")
        text = text[:start] + block.replace(old, new, 1) + text[end:]
    return text


GD_ZERO = "        weight.grad = None\n        bias.grad = None\n"
GD_UPDATE = "            weight -= lr * weight.grad\n            bias -= lr * bias.grad\n"
BGD_LOOP = "        for x_batch, y_batch in zip(torch.split(X, batch_size), torch.split(Y, batch_size)):\n"

BUGS = {
    # name: (edits, checks that must fail)
    "no_gradient_zeroing": (
        [("fit_GD", GD_ZERO, "")],
        ["test_fit_GD_seed_data", "test_fit_GD_hidden_trajectory"]),
    "epoch_loss_over_batch_size": (  # the seed student's bug
        [("fit_BGD", "losses[epoch] = np.mean(batch_losses)", "losses[epoch] = sum(batch_losses) / batch_size")],
        ["test_fit_BGD_seed_data", "test_fit_BGD_short_last_batch"]),
    "loss_recorded_after_update": (
        [("fit_GD", "        losses[epoch] = loss.item()\n", ""),
         ("fit_GD", GD_UPDATE, GD_UPDATE + "        losses[epoch] = loss_func(model(X, weight, bias), Y).item()\n")],
        ["test_fit_GD_seed_data", "test_fit_GD_hidden_trajectory"]),
    "gradient_ascent": (
        [("fit_GD", GD_UPDATE, GD_UPDATE.replace("-=", "+="))],
        ["test_fit_GD_seed_data", "test_fit_GD_hidden_trajectory", "test_fit_GD_converges"]),
    "off_by_one_epochs": (
        [("fit_GD", "losses = np.zeros(num_epochs)\n    for epoch in range(num_epochs):",
          "losses = np.zeros(num_epochs - 1)\n    for epoch in range(1, num_epochs):")],
        ["test_fit_GD_contract", "test_fit_GD_seed_data", "test_fit_GD_hidden_trajectory"]),
    "shuffled_batches": (
        [("fit_BGD", BGD_LOOP, "        perm = torch.randperm(len(X))\n"
          + BGD_LOOP.replace("split(X,", "split(X[perm],").replace("split(Y,", "split(Y[perm],"))],
        ["test_fit_BGD_seed_data", "test_fit_BGD_short_last_batch"]),
    "list_instead_of_array": (
        [("fit_GD", "    return losses\n", "    return list(losses)\n")],
        ["test_fit_GD_contract", "test_fit_GD_seed_data", "test_fit_GD_hidden_trajectory"]),
    "momentum_dropped": (
        [("train_perceptron", "lr=lr, momentum=momentum)", "lr=lr)")],
        ["test_perceptron_batch_seed_data", "test_perceptron_sgd_seed_data", "test_perceptron_batch_hidden"]),
    "last_row_loss_instead_of_mean": (
        [("train_perceptron", "history[epoch] = np.mean(step_losses)", "history[epoch] = step_losses[-1]")],
        ["test_perceptron_sgd_seed_data", "test_perceptron_sgd_hidden"]),
    "loss_sum_instead_of_mean": (
        [("loss_func", "torch.mean((y_pred - y_true) ** 2)", "torch.sum((y_pred - y_true) ** 2)")],
        ["test_loss_value", "test_loss_gradient"]),
    "numpy_gradient_missing_factor_2": (
        [("fit_numpy", "grad_w = 2.0 / n * (X.T @ residual)", "grad_w = 1.0 / n * (X.T @ residual)")],
        ["test_fit_numpy_values", "test_fit_numpy_gradient_matches_autograd"]),
    "numpy_via_torch_autograd": (
        [("fit_numpy", "        grad_w = 2.0 / n * (X.T @ residual)\n",
          "        wt = torch.tensor(w, requires_grad=True)\n"
          "        torch.mean((torch.tensor(X) @ wt + b - torch.tensor(y)) ** 2).backward()\n"
          "        grad_w = wt.grad.numpy()\n")],
        ["test_fit_numpy_without_torch"]),
    # Arguments swapped: the grader's model and loss are not symmetric, so the losses change.
    "loss_arguments_swapped": (
        [("fit_GD", "loss = loss_func(model(X, weight, bias), Y)", "loss = loss_func(Y, model(X, weight, bias))")],
        ["test_fit_GD_seed_data", "test_fit_GD_hidden_trajectory", "test_fit_GD_uses_given_model_and_loss"]),
    "model_arguments_swapped": (
        [("fit_GD", "loss = loss_func(model(X, weight, bias), Y)", "loss = loss_func(model(weight, X, bias), Y)")],
        ["test_fit_GD_contract", "test_fit_GD_seed_data", "test_fit_GD_hidden_trajectory",
         "test_fit_GD_uses_given_model_and_loss", "test_fit_GD_converges"]),
    "batch_loss_arguments_swapped": (
        [("fit_BGD", "loss = loss_func(model(x_batch, weight, bias), y_batch)",
          "loss = loss_func(y_batch, model(x_batch, weight, bias))")],
        ["test_fit_BGD_seed_data", "test_fit_BGD_short_last_batch", "test_fit_BGD_one_batch_is_GD",
         "test_fit_BGD_uses_given_model_and_loss"]),
    "batch_model_arguments_swapped": (
        [("fit_BGD", "model(x_batch, weight, bias)", "model(weight, x_batch, bias)")],
        ["test_fit_BGD_contract", "test_fit_BGD_seed_data", "test_fit_BGD_short_last_batch",
         "test_fit_BGD_one_batch_is_GD", "test_fit_BGD_uses_given_model_and_loss"]),
    # A NaN gradient: relative_error is NaN, and "NaN > tol" is False; the check must still fail.
    "numpy_nan_gradient": (
        [("fit_numpy", "grad_b = 2.0 / n * np.sum(residual)", "grad_b = 2.0 / n * np.sum(residual) * np.nan")],
        ["test_fit_numpy_values", "test_fit_numpy_hidden", "test_fit_numpy_gradient_matches_autograd"]),
}

# Hard-coded answers are built from the reference's own output on the handout's data
# (see ``hard_coded_variant``): they pass the public checks and must fail the hidden ones.
HARD_CODED_FAILS = ["test_fit_GD_hidden_trajectory", "test_fit_GD_uses_given_model_and_loss"]

ALTERNATIVES = {
    "torch_optim_sgd": [
        ("fit_GD", GD_ZERO, ""),
        ("fit_GD", "    losses = np.zeros(num_epochs)\n",
         "    opt = torch.optim.SGD([weight, bias], lr=lr)\n    losses = np.zeros(num_epochs)\n"),
        ("fit_GD", "        loss.backward()\n        with torch.no_grad():\n" + GD_UPDATE,
         "        opt.zero_grad()\n        loss.backward()\n        opt.step()\n")],
    "data_updates_and_zero_": [
        ("fit_GD", GD_ZERO, ""),
        ("fit_GD", "        with torch.no_grad():\n" + GD_UPDATE,
         "        weight.data = weight.data - lr * weight.grad.data\n"
         "        bias.data = bias.data - lr * bias.grad.data\n"
         "        weight.grad.data.zero_()\n        bias.grad.data.zero_()\n")],
    "slicing_instead_of_split": [
        ("fit_BGD", BGD_LOOP, "        for i in range(0, len(X), batch_size):\n"
         "            x_batch, y_batch = X[i:i + batch_size], Y[i:i + batch_size]\n")],
    "printing_inside_loops": [
        ("fit_GD", "        losses[epoch] = loss.item()\n",
         "        losses[epoch] = loss.item()\n        print(f'Epoch {epoch + 1} - loss: {loss.item()}')\n"),
        ("fit_BGD", "            batch_losses.append(loss.item())\n",
         "            batch_losses.append(loss.item())\n            print('batch loss', loss.item())\n")],
    "builtin_losses": [
        ("loss_func", "torch.mean((y_pred - y_true) ** 2)", "F.mse_loss(y_pred, y_true)"),
        ("train_perceptron", "criterion = nn.MSELoss()", "criterion = lambda a, b: F.mse_loss(a, b)")],
    "perceptron_zip_rows": [
        ("train_perceptron", "pairs = [(data[i:i + 1], target[i:i + 1]) for i in range(len(data))]",
         "pairs = list(zip(data, target))")],
    "numpy_with_mean_and_loops": [
        ("fit_numpy", "        grad_w = 2.0 / n * (X.T @ residual)\n",
         "        grad_w = np.array([2.0 * np.mean(residual * X[:, j]) for j in range(d)])\n")],
}


def variant_makers(solution, bugs, alternatives):
    """reference_text(), bug_variant(name) and alternative_variant(name) for one assignment's
    solution file and its BUGS / ALTERNATIVES tables."""
    def reference_text():
        return solution.read_text(encoding="utf-8")

    def bug_variant(name):
        return patch(reference_text(), bugs[name][0])

    def alternative_variant(name):
        return patch(reference_text(), alternatives[name])

    return reference_text, bug_variant, alternative_variant


reference_text, bug_variant, alternative_variant = variant_makers(SOLUTION, BUGS, ALTERNATIVES)


def hard_coded_variant(seed_losses):
    """fit_GD returns the losses it printed once on the handout's data, whatever it is given."""
    start, end = function_span(reference_text(), "fit_GD")
    text = reference_text()
    body = ("def fit_GD(model, loss_func, X, Y, lr, num_epochs):\n"
            f"    return np.array({[float(v) for v in seed_losses]!r})\n\n\n")
    return text[:start] + body + text[end:]


def as_notebook(text, path):
    """A variant (percent-format source) as a notebook at ``path``; the .py of the same name
    beside it is used on the way and removed."""
    src = path.with_suffix(".py")
    src.write_text(text, encoding="utf-8")
    try:
        path.write_text(build.notebook_text(build.solution_notebook(src)), encoding="utf-8")
    finally:
        src.unlink()
    return path


def write(folder, name, text):
    path = Path(folder) / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return path
