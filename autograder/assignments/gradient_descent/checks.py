"""Checks for gradient_descent: one place that says what is graded, on what, for how much.

Every check calls the submission (``sub``) and the reference (``ref``) with the same inputs and
seed. Later tasks are called with the grader's own model and loss (``stand_ins.*``) so that a
bug in task 1.1 or 1.2 costs only those tasks' points. Neither is symmetric in its arguments
(the model takes data (N, 1) before weight (1,), the loss weighs over- and under-predictions
differently), so a fit function that swaps them does not reproduce the reference's losses.
"""
from typing import Any

import numpy as np
import torch

from ...checking import (
    Caller, ModuleData, Registry, SubmissionCaller, assert_close, expect_type, real_numbers, relative_error,
)

checks = Registry("gradient_descent")

MODEL, LOSS = "stand_ins.linear_model", "stand_ins.skewed_squared_loss"
OTHER_MODEL, OTHER_LOSS = "stand_ins.half_slope_model", "stand_ins.pinball_loss"
HANDOUT_LOSS = "stand_ins.mse_loss"  # the handout's own loss, for the convergence check
TRAJECTORY: dict[str, Any] = dict(rtol=1e-4, atol=1e-5)  # float32 training: same maths in another order


def line_data(n=200, slope=3.0, intercept=0.0, noise=0.5, seed=0, start=-10.0, step=0.1):
    """X (n, 1) and Y = slope * X + intercept + noise * N(0, 1), float32, like the handout's."""
    g = torch.Generator().manual_seed(seed)
    X = (start + step * torch.arange(n, dtype=torch.float32)).view(-1, 1)
    Y = slope * X + intercept + noise * torch.randn(X.shape, generator=g)
    return X, Y


def seed_data():
    """The handout's data set: arange(-10, 10, 0.1), Y = 3X + 0.5 noise."""
    return line_data()


def hidden_data():
    """57 points (a short last batch for batch sizes 10 and 8), another slope, an intercept."""
    return line_data(n=57, slope=-1.7, intercept=2.0, noise=0.3, seed=5, start=-3.0, step=0.11)


def regression_data(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.7 + 0.1 * rng.normal(size=n)
    return X, y


def perceptron_data():
    """The handout's three points."""
    return torch.tensor([[1.0, 3.0], [2.0, 6.0], [3.0, 9.0]]), torch.tensor([[1.0], [5.0], [13.0]])


def hidden_perceptron_data():
    g = torch.Generator().manual_seed(11)
    data = torch.randn(5, 2, generator=g)
    target = data @ torch.tensor([[2.0], [-0.5]]) + 0.3 * torch.randn(5, 1, generator=g)
    return data, target


# -- Task 1.1: model --------------------------------------------------------------------------

@checks.add(task="1.1", points=1)
def test_model_values(sub: SubmissionCaller, ref: Caller) -> None:
    """model(data, weight, bias) computes weight * data + bias."""
    X = torch.linspace(-2, 2, 9).view(-1, 1)
    args = (X, torch.tensor([1.5]), torch.tensor([-0.5]))
    got = sub.call("model", *args)
    expect_type(got, "tensor", "model(...)", shape=(9, 1))
    assert_close(got, ref.call("model", *args), "model(...)")


@checks.add(task="1.1", points=1, hidden=True)
def test_model_gradients(sub: SubmissionCaller, ref: Caller) -> None:
    """Autograd flows through model to weight and bias."""
    X = torch.linspace(-1, 3, 7).view(-1, 1)
    args = (sub.fn("model"), X, torch.tensor([0.7]), torch.tensor([2.0]))
    out, gw, gb = sub.call("stand_ins.model_and_grads", *args)
    _, want_gw, want_gb = ref.call("stand_ins.model_and_grads", *args)
    expect_type(out, "tensor", "model(...)", shape=(7, 1))
    if gw is None or gb is None:
        raise AssertionError("model(...) is not differentiable with respect to weight and bias "
                             "(their .grad stayed None)")
    assert_close(gw, want_gw, "d sum(model(...)) / d weight", rtol=1e-5)
    assert_close(gb, want_gb, "d sum(model(...)) / d bias", rtol=1e-5)


# -- Task 1.2: loss_func -----------------------------------------------------------------------

@checks.add(task="1.2", points=1)
def test_loss_value(sub: SubmissionCaller, ref: Caller) -> None:
    """loss_func returns the mean squared error as a 0-dim tensor."""
    a, b = torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[0.0], [2.5], [1.0]])
    got = sub.call("loss_func", a, b)
    expect_type(got, "tensor", "loss_func(...)", shape=())
    assert_close(got, ref.call("loss_func", a, b), "loss_func(...)")


@checks.add(task="1.2", points=1, hidden=True)
def test_loss_gradient(sub: SubmissionCaller, ref: Caller) -> None:
    """loss_func is differentiable and its gradient is 2 (y_pred - y_true) / N."""
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(13, 1, generator=g), torch.randn(13, 1, generator=g)
    loss, grad = sub.call("stand_ins.loss_and_grad", sub.fn("loss_func"), a, b)
    want_loss, want_grad = ref.call("stand_ins.loss_and_grad", ref.fn("loss_func"), a, b)
    assert_close(loss, want_loss, "loss_func(...) on random inputs", rtol=1e-5)
    assert_close(grad, want_grad, "d loss_func / d y_pred", rtol=1e-5, atol=1e-7)


# -- Task 1.3: fit_GD --------------------------------------------------------------------------

def _fit(sub_or_ref, name, *args, model=MODEL, loss=LOSS, seed=0):
    return sub_or_ref.call(name, sub_or_ref.fn(model), sub_or_ref.fn(loss), *args, seed=seed)


@checks.add(task="1.3", points=1)
def test_fit_GD_contract(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_GD returns an np.ndarray of shape (num_epochs,)."""
    X, Y = seed_data()
    got = _fit(sub, "fit_GD", X, Y, 0.01, 20)
    expect_type(got, "ndarray", "fit_GD(..., num_epochs=20)", shape=(20,))


@checks.add(task="1.3", points=1)
def test_fit_GD_seed_data(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_GD's losses on the handout's data match the reference (grader's model and loss, seed 0, lr 0.01)."""
    X, Y = seed_data()
    got, want = _fit(sub, "fit_GD", X, Y, 0.01, 20), _fit(ref, "fit_GD", X, Y, 0.01, 20)
    sub.plot("fit_GD: loss per epoch on the handout's data", {"yours": got, "reference": want}, xlabel="epoch",
             ylabel="grader's loss", logy=True)
    assert_close(got, want, "fit_GD losses", **TRAJECTORY)


@checks.add(task="1.3", points=2, hidden=True)
def test_fit_GD_hidden_trajectory(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_GD's losses match the reference on other data, learning rate and epoch count."""
    X, Y = hidden_data()
    for seed, lr, epochs in ((7, 0.05, 9), (8, 0.2, 4)):
        got = _fit(sub, "fit_GD", X, Y, lr, epochs, seed=seed)
        expect_type(got, "ndarray", f"fit_GD(..., num_epochs={epochs})", shape=(epochs,))
        assert_close(got, _fit(ref, "fit_GD", X, Y, lr, epochs, seed=seed), "fit_GD losses on other data",
                     show_expected=False, **TRAJECTORY)


@checks.add(task="1.3", points=1, hidden=True)
def test_fit_GD_uses_given_model_and_loss(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_GD trains the model and loss it is given, not ones of its own."""
    X, Y = hidden_data()
    args = (X, Y, 0.05, 6)
    got = _fit(sub, "fit_GD", *args, model=OTHER_MODEL, loss=OTHER_LOSS, seed=3)
    want = _fit(ref, "fit_GD", *args, model=OTHER_MODEL, loss=OTHER_LOSS, seed=3)
    assert_close(got, want, "fit_GD losses with another model and loss", show_expected=False, **TRAJECTORY)


@checks.add(task="1.3", points=1, hidden=True)
def test_fit_GD_converges(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_GD brings the handout's loss below 0.5 in 20 epochs at lr 0.01."""
    X, Y = seed_data()
    # Convergence is what this check grades: the losses' container is the contract check's.
    got = real_numbers(_fit(sub, "fit_GD", X, Y, 0.01, 20, loss=HANDOUT_LOSS, seed=1), "fit_GD(..., num_epochs=20)")
    if got.shape != (20,) or not np.isfinite(got).all():
        raise AssertionError(f"fit_GD should return 20 finite losses, got shape {got.shape}")
    if not got[-1] < 0.5 or not got[-1] < got[0]:
        raise AssertionError(f"fit_GD did not converge: loss went from {got[0]:.4g} to {got[-1]:.4g} "
                             "(expected below 0.5)")


# -- Task 1.4: fit_BGD -------------------------------------------------------------------------

@checks.add(task="1.4", points=1)
def test_fit_BGD_contract(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_BGD returns an np.ndarray of shape (num_epochs,)."""
    X, Y = seed_data()
    got = _fit(sub, "fit_BGD", X, Y, 0.01, 5, 10)
    expect_type(got, "ndarray", "fit_BGD(..., num_epochs=5)", shape=(5,))


@checks.add(task="1.4", points=1)
def test_fit_BGD_seed_data(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_BGD's losses on the handout's data match the reference (grader's model and loss, batch size 10)."""
    X, Y = seed_data()
    got, want = _fit(sub, "fit_BGD", X, Y, 0.01, 20, 10), _fit(ref, "fit_BGD", X, Y, 0.01, 20, 10)
    sub.plot("fit_BGD: loss per epoch on the handout's data (batch size 10)", {"yours": got, "reference": want},
             xlabel="epoch", ylabel="mean batch loss", logy=True)
    assert_close(got, want, "fit_BGD losses", **TRAJECTORY)


@checks.add(task="1.4", points=2, hidden=True)
def test_fit_BGD_short_last_batch(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_BGD matches the reference when the last batch is short (57 rows, batch size 10 or 8)."""
    X, Y = hidden_data()
    for seed, lr, epochs, batch in ((4, 0.05, 6, 10), (9, 0.1, 3, 8)):
        got = _fit(sub, "fit_BGD", X, Y, lr, epochs, batch, seed=seed)
        expect_type(got, "ndarray", f"fit_BGD(..., num_epochs={epochs})", shape=(epochs,))
        assert_close(got, _fit(ref, "fit_BGD", X, Y, lr, epochs, batch, seed=seed),
                     f"fit_BGD losses (57 rows, batch size {batch})", show_expected=False, **TRAJECTORY)


@checks.add(task="1.4", points=1, hidden=True)
def test_fit_BGD_one_batch_is_GD(sub: SubmissionCaller, ref: Caller) -> None:
    """With one batch holding all rows, fit_BGD follows full-batch gradient descent."""
    X, Y = hidden_data()
    got = _fit(sub, "fit_BGD", X, Y, 0.05, 5, 100, seed=2)
    assert_close(got, _fit(ref, "fit_GD", X, Y, 0.05, 5, seed=2), "fit_BGD losses with batch_size > N",
                 show_expected=False, **TRAJECTORY)


@checks.add(task="1.4", points=1, hidden=True)
def test_fit_BGD_uses_given_model_and_loss(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_BGD trains the model and loss it is given, not ones of its own."""
    X, Y = hidden_data()
    kw = dict(model=OTHER_MODEL, loss=OTHER_LOSS, seed=6)
    got = _fit(sub, "fit_BGD", X, Y, 0.05, 4, 16, **kw)
    assert_close(got, _fit(ref, "fit_BGD", X, Y, 0.05, 4, 16, **kw), "fit_BGD losses with another model and loss",
                 show_expected=False, **TRAJECTORY)


# -- Task 2.1: fit_numpy -----------------------------------------------------------------------

def _expect_numpy_result(result, d, iters):
    expect_type(result, "tuple", "fit_numpy(...)")
    if len(result) != 3:
        raise AssertionError(f"fit_numpy(...) should return (w, b, losses), got {len(result)} values")
    w, b, losses = result
    expect_type(w, "ndarray", "w", shape=(d,))
    expect_type(b, "float", "b")
    expect_type(losses, "ndarray", "losses", shape=(iters,))
    return w, b, losses


@checks.add(task="2.1", points=1)
def test_fit_numpy_contract(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_numpy returns (w of shape (D,), b a float, losses of shape (num_iters,))."""
    X, y = regression_data(20, 2, seed=0)
    _expect_numpy_result(sub.call("fit_numpy", X, y, 0.1, 8), 2, 8)


@checks.add(task="2.1", points=1)
def test_fit_numpy_values(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_numpy's w, b and losses match the reference on a small problem."""
    X, y = regression_data(20, 2, seed=0)
    w, b, losses = _expect_numpy_result(sub.call("fit_numpy", X, y, 0.1, 8), 2, 8)
    want_w, want_b, want_losses = ref.call("fit_numpy", X, y, 0.1, 8)
    assert_close(losses, want_losses, "losses", rtol=1e-6)
    assert_close(w, want_w, "w", rtol=1e-6)
    assert_close(b, want_b, "b", rtol=1e-6)


@checks.add(task="2.1", points=1, hidden=True)
def test_fit_numpy_hidden(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_numpy matches the reference on other data (3 features, 15 iterations)."""
    X, y = regression_data(41, 3, seed=8)
    w, b, losses = _expect_numpy_result(sub.call("fit_numpy", X, y, 0.05, 15), 3, 15)
    want_w, want_b, want_losses = ref.call("fit_numpy", X, y, 0.05, 15)
    assert_close(losses, want_losses, "losses on other data", rtol=1e-6, show_expected=False)
    assert_close(w, want_w, "w on other data", rtol=1e-6, show_expected=False)
    assert_close(b, want_b, "b on other data", rtol=1e-6, show_expected=False)


def _grad(t: torch.Tensor) -> np.ndarray:
    """``t``'s gradient after ``backward()`` (there is one: ``t`` requires it and was used)."""
    assert t.grad is not None
    return t.grad.numpy()


@checks.add(task="2.1", points=1, hidden=True)
def test_fit_numpy_gradient_matches_autograd(sub: SubmissionCaller, ref: Caller) -> None:
    """The gradient fit_numpy steps along equals torch autograd's (float64, rel. error < 1e-7)."""
    X, y = regression_data(30, 4, seed=4)
    lr = 0.01
    Xt, yt = torch.tensor(X), torch.tensor(y)
    w_prev, b_prev = np.zeros(4), 0.0
    for iters in (1, 2):  # the step from 0, then the step from where that one landed
        w, b, _ = _expect_numpy_result(sub.call("fit_numpy", X, y, lr, iters), 4, iters)
        wt = torch.tensor(w_prev, requires_grad=True)
        bt = torch.tensor(b_prev, dtype=torch.float64, requires_grad=True)
        torch.mean((Xt @ wt + bt - yt) ** 2).backward()
        got_w, got_b = (w_prev - w) / lr, (b_prev - float(b)) / lr
        for what, got, want in (("dL/dw", got_w, _grad(wt)), ("dL/db", got_b, _grad(bt))):
            err = relative_error(got, want)
            if not err <= 1e-7:  # NaN or inf fail too
                raise AssertionError(f"{what} implied by step {iters} differs from autograd's: "
                                     f"relative error {err:.2e} (allowed 1e-07)")
        w_prev, b_prev = w, float(b)


@checks.add(task="2.1", points=1, hidden=True)
def test_fit_numpy_without_torch(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_numpy computes the same without torch as with it (NumPy only)."""
    X, y = regression_data(10, 2, seed=1)
    # Called in a worker that never loaded torch and cannot load it: a fallback for when torch
    # is missing is graded on what it computes.
    reply, got = sub.call_raw("fit_numpy", X, y, 0.1, 3, forbid=["torch"])
    if reply.forbidden:
        raise AssertionError(f"fit_numpy used torch ({reply.forbidden[0]}); it must use NumPy only")
    if not reply.ok:
        raise AssertionError(sub.error_message("fit_numpy", reply))
    # Compared with its own answer where torch exists (its values are graded by the checks
    # above): the same NumPy code gives the same numbers, NaN included.
    without = _expect_numpy_result(got, 2, 3)
    with_torch = _expect_numpy_result(sub.call("fit_numpy", X, y, 0.1, 3), 2, 3)
    for what, a, b in zip(("w", "b", "losses"), without, with_torch):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if not np.allclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True):
            raise AssertionError(f"fit_numpy's {what} differs where torch does not exist: it must compute with "
                                 "NumPy only")


# -- Task 3.1: train_perceptron ----------------------------------------------------------------

def _perceptron(sub_or_ref, data, target, mode, epochs, seed=0, **kw):
    return sub_or_ref.call("train_perceptron", data, target, mode, epochs, seed=seed, **kw)


def _expect_perceptron(result, epochs):
    expect_type(result, "tuple", "train_perceptron(...)")
    if len(result) != 2:
        raise AssertionError(f"train_perceptron(...) should return (net, history), got {len(result)} values")
    net, history = result
    if not isinstance(net, ModuleData) or sorted(net.state) != ["weight"]:
        raise AssertionError(f"net should be nn.Linear(2, 1, bias=False), got {net!r}")
    expect_type(net.state["weight"], "tensor", "net.weight", shape=(1, 2))
    expect_type(history, "ndarray", "history", shape=(epochs,))
    return net.state["weight"], history


def _compare_perceptron(sub, ref, args, epochs, what, show_expected=True, **kw):
    weight, history = _expect_perceptron(_perceptron(sub, *args, epochs, **kw), epochs)
    want_weight, want_history = _perceptron(ref, *args, epochs, **kw)
    sub.plot(f"train_perceptron, {what}: loss per epoch", {"yours": history, "reference": want_history},
             xlabel="epoch", ylabel="loss", logy=True)
    assert_close(history, want_history, f"{what}: history", show_expected=show_expected, **TRAJECTORY)
    assert_close(weight, want_weight.state["weight"], f"{what}: trained weight", show_expected=show_expected,
                 **TRAJECTORY)


@checks.add(task="3.1", points=1)
def test_perceptron_contract(sub: SubmissionCaller, ref: Caller) -> None:
    """train_perceptron returns (nn.Linear(2, 1, bias=False), history of shape (num_epochs,))
    and starts from weight [[1, -1]] (first batch loss 150.33 on the handout's data)."""
    data, target = perceptron_data()
    _, history = _expect_perceptron(_perceptron(sub, data, target, "batch", 5), 5)
    assert_close(history[:1], np.array([451.0 / 3.0]), "history[0] (loss at weight [[1, -1]])", rtol=1e-5)


@checks.add(task="3.1", points=1)
def test_perceptron_batch_seed_data(sub: SubmissionCaller, ref: Caller) -> None:
    """Batch mode on the handout's data (lr 0.01, momentum 0.5, 50 epochs) matches the reference."""
    _compare_perceptron(sub, ref, perceptron_data() + ("batch",), 50, "batch mode")


@checks.add(task="3.1", points=1, hidden=True)
def test_perceptron_batch_hidden(sub: SubmissionCaller, ref: Caller) -> None:
    """Batch mode matches the reference on other data, learning rate and momentum."""
    _compare_perceptron(sub, ref, hidden_perceptron_data() + ("batch",), 30, "batch mode on other data",
                        show_expected=False, lr=0.05, momentum=0.8)


@checks.add(task="3.1", points=1, hidden=True)
def test_perceptron_sgd_seed_data(sub: SubmissionCaller, ref: Caller) -> None:
    """SGD mode on the handout's data: one step per row, history = mean of the epoch's row losses."""
    _compare_perceptron(sub, ref, perceptron_data() + ("sgd",), 40, "sgd mode", show_expected=False)


@checks.add(task="3.1", points=1, hidden=True)
def test_perceptron_sgd_hidden(sub: SubmissionCaller, ref: Caller) -> None:
    """SGD mode matches the reference on other data, learning rate and momentum."""
    _compare_perceptron(sub, ref, hidden_perceptron_data() + ("sgd",), 25, "sgd mode on other data",
                        show_expected=False, lr=0.03, momentum=0.9)


@checks.add(task="3.1", points=1, hidden=True)
def test_perceptron_momentum_matters(sub: SubmissionCaller, ref: Caller) -> None:
    """Changing momentum changes the batch-mode trajectory as it does in the reference."""
    _compare_perceptron(sub, ref, perceptron_data() + ("batch",), 20, "batch mode with momentum 0",
                        show_expected=False, momentum=0.0)
