"""Checks for mlp_backprop. Gradients are compared with torch autograd in float64 (relative
error below 1e-7) and with central differences of the submission's own loss; MLP methods are
called on weights the grader chooses, so student and reference see identical parameters.
Parts 1 to 3 are NumPy only: the submission's functions and methods there are called with torch
unavailable (``forbid``), and a call that touches torch fails its check. Every comparison is
written so that NaN and inf fail it (``not err <= tol``).
"""
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...checking import (
    Caller, Registry, SubmissionCaller, as_array, assert_close, expect_type, real_numbers, relative_error,
)

checks = Registry("mlp_backprop")

AUTOGRAD_RTOL = 1e-7   # CS231n: 1e-7 or less is right for float64 without kinks
NUMERIC_RTOL = 1e-5    # central differences, h = 1e-5, float64
NUMPY_ONLY = ["torch"]  # forbidden in every call into Parts 1 to 3
SEED_EXAMPLE = dict(X=np.array([[1.0, 2.0]]), W1=np.array([[2.0, 1.0], [0.0, 1.0]]),
                    W2=np.array([[1.0, 2.0], [1.0, 2.0]]), T=np.array([[0.0, 0.0]]))


def rng(seed):
    return np.random.default_rng(seed)


def random_params(sizes, seed, scale=1.0):
    g = rng(seed)
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"] = g.normal(0, scale / np.sqrt(a), size=(a, b))
        params[f"b{i}"] = g.normal(0, 0.1, size=b)
    return params


def classification_data(n, d, classes, seed):
    g = rng(seed)
    return g.normal(size=(n, d)), g.integers(0, classes, size=n)


def blobs(n, seed, d=4, classes=4):
    """A hidden 4-class problem: Gaussian blobs at the corners of a square, plus noise features."""
    g = rng(seed)
    y = g.integers(0, classes, size=n)
    centers = np.array([[2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]])
    X = np.concatenate([centers[y] + g.normal(0, 0.9, size=(n, 2)), g.normal(size=(n, d - 2))], axis=1)
    return X, y


def torch_reference(params, X, y):
    """Loss and gradients by torch autograd in float64: ReLU hidden layers, softmax output."""
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(X, dtype=torch.float64)
    layers = len(params) // 2
    for i in range(1, layers + 1):
        h = h @ tp[f"W{i}"] + tp[f"b{i}"]
        if i < layers:
            h = torch.relu(h)
    loss = F.cross_entropy(h, torch.tensor(y))
    loss.backward()
    return loss.item(), torch.softmax(h, dim=1).detach().numpy(), {k: v.grad.numpy() for k, v in tp.items()}


def mlp(side, sizes, params, *calls, seed=0):
    """Run MLP methods in the submission (sub) or the reference (ref) on given weights."""
    return side.call("stand_ins.use_object", side.fn("MLP"), [list(sizes)], {"seed": seed}, params,
                     [list(c) for c in calls], forbid=NUMPY_ONLY)


def expect_gradients(grads, params, what="gradients(X, y)"):
    if not isinstance(grads, dict):
        raise AssertionError(f"{what}: expected a dict, got {type(grads).__name__}")
    if sorted(grads) != sorted(params):
        raise AssertionError(f"{what}: expected keys {sorted(params)}, got {sorted(grads)}")
    for k in params:
        expect_type(grads[k], "ndarray", f"{what}[{k!r}]", shape=params[k].shape)


def compare_gradients(grads, want, rtol, against):
    for k in sorted(want):
        err = relative_error(grads[k], want[k])
        if not err <= rtol:  # NaN or inf fail too
            raise AssertionError(f"gradient of {k} differs from {against}: relative error {err:.2e} "
                                 f"(allowed {rtol:.0e})")


# -- Task 1.1: two_layer_backprop ----------------------------------------------------------------

@checks.add(task="1.1", points=1)
def test_backprop_worked_example(sub: SubmissionCaller, ref: Caller) -> None:
    """The worked example comes out exactly: L = 62.5, dW2 = [[10, 20], [15, 30]], dW1 = [[25, 25], [50, 50]]."""
    L, dW1, dW2 = _three(sub.call("two_layer_backprop", *SEED_EXAMPLE.values(), forbid=NUMPY_ONLY))
    assert_close(L, 62.5, "L", rtol=0, atol=1e-12)
    assert_close(dW1, np.array([[25.0, 25.0], [50.0, 50.0]]), "dW1", rtol=0, atol=1e-12)
    assert_close(dW2, np.array([[10.0, 20.0], [15.0, 30.0]]), "dW2", rtol=0, atol=1e-12)


def _three(got):
    expect_type(got, "tuple", "two_layer_backprop(...)")
    if len(got) != 3:
        raise AssertionError(f"two_layer_backprop(...) should return (L, dW1, dW2), got {len(got)} values")
    return got


def _backprop_against_autograd(sub, X, W1, W2, T):
    L, dW1, dW2 = _three(sub.call("two_layer_backprop", X, W1, W2, T, forbid=NUMPY_ONLY))
    t1 = torch.tensor(W1, requires_grad=True)
    t2 = torch.tensor(W2, requires_grad=True)
    loss = 0.5 * torch.sum((torch.tensor(T) - torch.relu(torch.relu(torch.tensor(X) @ t1) @ t2)) ** 2)
    loss.backward()
    assert_close(L, loss.item(), "L", rtol=1e-10, show_expected=False)
    for what, got, want in (("dW1", dW1, t1.grad.numpy()), ("dW2", dW2, t2.grad.numpy())):
        expect_type(got, "ndarray", what, shape=want.shape)
        err = relative_error(got, want)
        if not err <= AUTOGRAD_RTOL:  # NaN or inf fail too
            raise AssertionError(f"{what} differs from autograd's: relative error {err:.2e} "
                                 f"(allowed {AUTOGRAD_RTOL:.0e})")


@checks.add(task="1.1", points=2, hidden=True)
def test_backprop_random_shapes(sub: SubmissionCaller, ref: Caller) -> None:
    """dW1 and dW2 equal torch autograd's on random shapes (float64, relative error < 1e-7)."""
    g = rng(21)
    for n, n_in, n_h, n_out in ((5, 4, 6, 3), (7, 3, 5, 5), (1, 2, 2, 2)):
        X, W1 = g.normal(size=(n, n_in)), g.normal(size=(n_in, n_h))
        W2, T = g.normal(size=(n_h, n_out)), g.normal(size=(n, n_out))
        _backprop_against_autograd(sub, X, W1, W2, T)


@checks.add(task="1.1", points=1, hidden=True)
def test_backprop_relu_derivative_at_zero(sub: SubmissionCaller, ref: Caller) -> None:
    """Pre-activations exactly 0, hidden or output, get derivative 0 (as torch.relu's backward)."""
    X = np.array([[1.0, -1.0], [2.0, 0.0], [0.0, 0.0]])
    W1 = np.array([[1.0, 2.0, -1.0], [1.0, 0.5, 1.0]])  # first hidden unit is 0 for row 1
    W2 = np.array([[1.0, -1.0], [1.0, 1.0], [0.5, 2.0]])
    T = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    _backprop_against_autograd(sub, X, W1, W2, T)
    # The output unit 2 of row 3 has pre-activation exactly 0 while its target is 1, so
    # ReLU'(0) decides dW2 and dW1 there (dyadic numbers: the zero is exact in any order).
    X = np.array([[1.0, 1.0], [2.0, -1.0], [1.0, 0.5]])
    W1 = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])
    W2 = np.array([[1.0, -1.0], [-1.0, 2.0], [0.5, 0.0]])
    T = np.array([[1.0, 0.0], [0.5, 2.0], [-1.0, 1.0]])
    _backprop_against_autograd(sub, X, W1, W2, T)


# -- Tasks 2.1 and 2.2: counts -------------------------------------------------------------------

HIDDEN_SIZES = ([3, 5, 2], [10, 20, 30, 40, 5], [7, 1], [784, 512, 256, 10])


def _count(sub, ref, name, sizes_list, show_expected):
    for sizes in sizes_list:
        got = sub.call(name, list(sizes), forbid=NUMPY_ONLY)
        want = ref.call(name, list(sizes))
        if not isinstance(got, int) or isinstance(got, bool):
            raise AssertionError(f"{name}({sizes}): expected an int, got {type(got).__name__}")
        if got != want:
            detail = f"expected {want}, got {got}" if show_expected else f"got {got}, which is wrong"
            raise AssertionError(f"{name}({sizes}): {detail}")


@checks.add(task="2.1", points=1)
def test_count_params_seed(sub: SubmissionCaller, ref: Caller) -> None:
    """count_params([784, 512, 512, 10]) == 669706."""
    _count(sub, ref, "count_params", [[784, 512, 512, 10]], True)


@checks.add(task="2.1", points=1, hidden=True)
def test_count_params_hidden(sub: SubmissionCaller, ref: Caller) -> None:
    """count_params on other layer sizes (biases included, no hidden layer too)."""
    _count(sub, ref, "count_params", HIDDEN_SIZES, False)


@checks.add(task="2.2", points=1)
def test_count_ops_seed(sub: SubmissionCaller, ref: Caller) -> None:
    """count_ops([784, 512, 512, 10]) == 1338378."""
    _count(sub, ref, "count_ops", [[784, 512, 512, 10]], True)


@checks.add(task="2.2", points=1, hidden=True)
def test_count_ops_hidden(sub: SubmissionCaller, ref: Caller) -> None:
    """count_ops on other layer sizes (2 per MAC, one activation per non-input node)."""
    _count(sub, ref, "count_ops", HIDDEN_SIZES, False)


# -- Task 3.1: MLP.__init__ ----------------------------------------------------------------------

def _expect_params(params, sizes, what):
    want = random_params(sizes, 0)
    if not isinstance(params, dict) or sorted(params) != sorted(want):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise AssertionError(f"{what}: params should have keys {sorted(want)}, got {got}")
    for k, v in want.items():
        expect_type(params[k], "ndarray", f"{what}: params[{k!r}]", shape=v.shape)
        if not np.all(np.isfinite(params[k])):
            raise AssertionError(f"{what}: params[{k!r}] is not finite")


@checks.add(task="3.1", points=1)
def test_init_shapes(sub: SubmissionCaller, ref: Caller) -> None:
    """MLP([5, 7, 3]).params has W1 (5, 7), b1 (7,), W2 (7, 3), b2 (3,)."""
    _, params, _ = mlp(sub, [5, 7, 3], None)
    _expect_params(params, [5, 7, 3], "MLP([5, 7, 3])")


@checks.add(task="3.1", points=1, hidden=True)
def test_init_depth_and_seed(sub: SubmissionCaller, ref: Caller) -> None:
    """Any depth works; the same seed gives the same weights, another seed other weights."""
    sizes = [4, 6, 5, 2]
    _, a, _ = mlp(sub, sizes, None, seed=1)
    _, b, _ = mlp(sub, sizes, None, seed=1)
    _, c, _ = mlp(sub, sizes, None, seed=2)
    _expect_params(a, sizes, "MLP([4, 6, 5, 2], seed=1)")
    if any(not np.array_equal(a[k], b[k]) for k in a):
        raise AssertionError("MLP(sizes, seed=1) gave different weights on two calls: draw them from the seed")
    if all(np.array_equal(a[k], c[k]) for k in a if k.startswith("W")):
        raise AssertionError("MLP(sizes, seed=1) and MLP(sizes, seed=2) have identical weights")


INIT_SIZES = [300, 200, 100]  # 60,000 and 20,000 weights: sample statistics within 1% of He's
INIT_STD_RTOL = 0.05           # Xavier (x0.77 and x0.82 here), fan-out He (x1.22) or 0.01 fail it
INIT_MEAN_ATOL = 0.05          # |mean| / (He standard deviation)
INIT_KURTOSIS_ATOL = 0.5       # excess kurtosis of a normal sample: 0 +- 0.02; uniform: -1.2


@checks.add(task="3.1", points=1, hidden=True)
def test_init_he_scale_zero_biases(sub: SubmissionCaller, ref: Caller) -> None:
    """Weights are normal with mean 0 and standard deviation sqrt(2 / fan_in) (He), biases zero."""
    _, params, _ = mlp(sub, INIT_SIZES, None, seed=23)
    _expect_params(params, INIT_SIZES, f"MLP({INIT_SIZES}, seed=23)")
    for i, n_in in enumerate(INIT_SIZES[:-1], start=1):
        W, b = real_numbers(params[f"W{i}"], f"W{i}"), real_numbers(params[f"b{i}"], f"b{i}")
        he = np.sqrt(2.0 / n_in)
        mean, std = float(W.mean()), float(W.std())
        if not abs(std / he - 1) <= INIT_STD_RTOL:
            raise AssertionError(f"W{i} ({n_in} inputs) has standard deviation {std:.4g}; He initialisation gives "
                                 f"sqrt(2 / {n_in}) = {he:.4g} (within {INIT_STD_RTOL:.0%} expected)")
        if not abs(mean) <= INIT_MEAN_ATOL * he:
            raise AssertionError(f"W{i} has mean {mean:.4g}; mean 0 expected")
        kurtosis = float(np.mean(((W - mean) / std) ** 4) - 3)
        if not abs(kurtosis) <= INIT_KURTOSIS_ATOL:
            raise AssertionError(f"W{i} does not look normally distributed (excess kurtosis {kurtosis:.3g}, "
                                 "0 for a normal distribution)")
        if not np.all(b == 0):
            raise AssertionError(f"b{i} should be all zeros, got {np.count_nonzero(b)} non-zero entries")


# -- Tasks 3.2 and 3.3: forward and loss -----------------------------------------------------------

@checks.add(task="3.2", points=1)
def test_forward_one_hidden_layer(sub: SubmissionCaller, ref: Caller) -> None:
    """forward gives softmax probabilities (N, C) equal to torch's, one hidden layer."""
    sizes, params = [3, 5, 4], random_params([3, 5, 4], 1)
    X, y = classification_data(6, 3, 4, 2)
    (probs,), _, _ = mlp(sub, sizes, params, ("forward", [X], {}))
    expect_type(probs, "ndarray", "forward(X)", shape=(6, 4))
    assert_close(probs, torch_reference(params, X, y)[1], "forward(X)", rtol=1e-7, atol=1e-12)


@checks.add(task="3.2", points=1, hidden=True)
def test_forward_two_hidden_layers(sub: SubmissionCaller, ref: Caller) -> None:
    """forward matches torch with two hidden layers of other widths."""
    sizes = [4, 7, 3, 5]
    params = random_params(sizes, 4)
    X, y = classification_data(9, 4, 5, 5)
    (probs,), _, _ = mlp(sub, sizes, params, ("forward", [X], {}))
    assert_close(probs, torch_reference(params, X, y)[1], "forward(X)", rtol=1e-7, atol=1e-12,
                 show_expected=False)


@checks.add(task="3.2", points=1, hidden=True)
def test_forward_stable_for_huge_logits(sub: SubmissionCaller, ref: Caller) -> None:
    """forward stays finite and correct when logits are around +-1000."""
    sizes = [2, 3]
    params = {"W1": np.array([[500.0, -500.0, 0.0], [500.0, 500.0, -1000.0]]), "b1": np.zeros(3)}
    X = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    (probs,), _, _ = mlp(sub, sizes, params, ("forward", [X], {}))
    expect_type(probs, "ndarray", "forward(X)", shape=(len(X), 3))
    probs = as_array(probs, "forward(X)")
    if not np.all(np.isfinite(probs)):
        raise AssertionError("forward(X) overflows for logits around +-1000 (got nan or inf): "
                             "subtract each row's maximum logit before exp")
    assert_close(probs, torch_reference(params, X, np.zeros(3, dtype=int))[1], "forward(X) with huge logits",
                 rtol=1e-7, atol=1e-12, show_expected=False)
    # Rows on very different scales: the maximum of each row, not of the whole batch, must be
    # subtracted (row 4's logits are all -1000 while row 5's reach 2000).
    params = {**params, "b1": np.full(3, -1000.0)}
    X = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [0.0, 0.0], [3.0, 3.0]])
    (probs,), _, _ = mlp(sub, sizes, params, ("forward", [X], {}))
    expect_type(probs, "ndarray", "forward(X)", shape=(len(X), 3))
    probs = as_array(probs, "forward(X)")
    if not np.all(np.isfinite(probs)):
        raise AssertionError("forward(X) gives nan or inf when the rows' logits lie far apart (one row around "
                             "-1000, another around 2000): subtract each row's own maximum, not the batch's")
    assert_close(probs, torch_reference(params, X, np.zeros(5, dtype=int))[1],
                 "forward(X) with rows on different scales", rtol=1e-7, atol=1e-12, show_expected=False)


@checks.add(task="3.3", points=1)
def test_loss_equals_cross_entropy(sub: SubmissionCaller, ref: Caller) -> None:
    """loss(X, y) equals torch.nn.functional.cross_entropy on the same logits."""
    sizes, params = [3, 5, 4], random_params([3, 5, 4], 1)
    X, y = classification_data(6, 3, 4, 2)
    (loss,), _, _ = mlp(sub, sizes, params, ("loss", [X, y], {}))
    expect_type(loss, "float", "loss(X, y)")
    assert_close(loss, torch_reference(params, X, y)[0], "loss(X, y)", rtol=1e-9)


@checks.add(task="3.3", points=1, hidden=True)
def test_loss_two_hidden_layers(sub: SubmissionCaller, ref: Caller) -> None:
    """loss matches cross_entropy with two hidden layers and 20 samples."""
    sizes = [5, 8, 6, 3]
    params = random_params(sizes, 7, scale=2.0)
    X, y = classification_data(20, 5, 3, 8)
    (loss,), _, _ = mlp(sub, sizes, params, ("loss", [X, y], {}))
    assert_close(loss, torch_reference(params, X, y)[0], "loss(X, y)", rtol=1e-9, show_expected=False)


# -- Task 3.4: gradients -----------------------------------------------------------------------------

def _gradients_vs_autograd(sub, sizes, pseed, dseed, n):
    params = random_params(sizes, pseed)
    X, y = classification_data(n, sizes[0], sizes[-1], dseed)
    (grads,), _, _ = mlp(sub, sizes, params, ("gradients", [X, y], {}))
    expect_gradients(grads, params)
    want = torch_reference(params, X, y)[2]
    sub.plot(f"MLP({sizes}).gradients: relative error per parameter vs torch autograd (allowed {AUTOGRAD_RTOL:.0e})",
             {k: max(relative_error(grads[k], want[k]), 1e-17) for k in sorted(want)}, kind="bar", logy=True,
             ylabel="relative error")
    compare_gradients(grads, want, AUTOGRAD_RTOL, "torch autograd's")


@checks.add(task="3.4", points=1)
def test_gradients_one_hidden_layer(sub: SubmissionCaller, ref: Caller) -> None:
    """gradients equal torch autograd's (float64, relative error < 1e-7), one hidden layer."""
    _gradients_vs_autograd(sub, [3, 5, 4], 1, 2, 6)


@checks.add(task="3.4", points=2, hidden=True)
def test_gradients_two_hidden_layers(sub: SubmissionCaller, ref: Caller) -> None:
    """gradients equal autograd's with two hidden layers (one square weight matrix)."""
    _gradients_vs_autograd(sub, [5, 6, 6, 4], 11, 12, 10)
    _gradients_vs_autograd(sub, [2, 9, 3], 13, 14, 1)


@checks.add(task="3.4", points=1, hidden=True)
def test_gradients_central_differences(sub: SubmissionCaller, ref: Caller) -> None:
    """gradients agree with central differences of the submission's own loss (h = 1e-5)."""
    sizes = [3, 4, 4, 3]
    params = random_params(sizes, 17)
    X, y = classification_data(7, 3, 3, 18)
    h = 1e-5
    calls: list[tuple[str, list[Any], dict[str, Any]]] = [("gradients", [X, y], {})]
    keys = []
    for k, v in params.items():
        for idx in np.ndindex(v.shape):
            for sign in (1, -1):
                p = {kk: vv.copy() for kk, vv in params.items()}
                p[k][idx] += sign * h
                keys.append((k, idx, sign, p))
    (grads,), _, _ = mlp(sub, sizes, params, *calls)
    expect_gradients(grads, params)
    # One probe call per perturbation would be slow; evaluate them all in one worker call.
    results = sub.call("stand_ins.loss_table", sub.fn("MLP"), list(sizes), [p for *_, p in keys], X, y,
                       forbid=NUMPY_ONLY)
    numeric = {k: np.zeros_like(v) for k, v in params.items()}
    for (k, idx, sign, _), value in zip(keys, results):
        numeric[k][idx] += sign * float(value) / (2 * h)
    compare_gradients(grads, numeric, NUMERIC_RTOL, "central differences of your loss")


# Dyadic weights and inputs: the pre-activations z1[0, 0], z1[3, 1] and z2[3, 2] are exactly 0 in
# any summation order, and each one's unit carries gradient, so ReLU'(0) changes W1, b1, W2, b2.
RELU_ZERO_PARAMS = {
    "W1": np.array([[1.0, -1.0, 0.5], [1.0, 1.0, -0.5]]), "b1": np.array([0.0, 0.0, 1.0]),
    "W2": np.array([[1.0, -1.0, 0.5], [-1.0, 2.0, 1.0], [0.5, 1.0, -1.0]]), "b2": np.array([0.0, -1.0, 0.5]),
    "W3": np.array([[1.0, -2.0], [0.5, 1.0], [-1.0, 1.5]]), "b3": np.array([0.25, -0.25])}
RELU_ZERO_X = np.array([[1.0, -1.0], [2.0, 0.0], [-1.0, 3.0], [0.5, 0.5], [3.0, 1.0]])
RELU_ZERO_Y = np.array([0, 1, 1, 0, 1])


@checks.add(task="3.4", points=1, hidden=True)
def test_gradients_relu_derivative_at_zero(sub: SubmissionCaller, ref: Caller) -> None:
    """Hidden pre-activations exactly 0 get ReLU derivative 0, as in torch autograd."""
    params = RELU_ZERO_PARAMS
    (grads,), _, _ = mlp(sub, [2, 3, 3, 2], params, ("gradients", [RELU_ZERO_X, RELU_ZERO_Y], {}))
    expect_gradients(grads, params)
    compare_gradients(grads, torch_reference(params, RELU_ZERO_X, RELU_ZERO_Y)[2], AUTOGRAD_RTOL,
                      "torch autograd's (ReLU'(0) = 0)")


# -- Task 3.5: step ----------------------------------------------------------------------------------

@checks.add(task="3.5", points=1)
def test_step_updates_params_in_place(sub: SubmissionCaller, ref: Caller) -> None:
    """step(grads, lr) sets params[k] -= lr * grads[k] in the same params dict."""
    sizes = [3, 4, 2]
    params, grads = random_params(sizes, 5), random_params(sizes, 6)
    (_,), after, same = mlp(sub, sizes, params, ("step", [grads, 0.3], {}))
    if not same:
        raise AssertionError("step replaced self.params with a new dict; update it in place")
    for k in params:
        assert_close(after[k], params[k] - 0.3 * grads[k], f"params[{k!r}] after step", rtol=1e-12, atol=1e-15)


@checks.add(task="3.5", points=1)
def test_step_mutates_arrays_in_place(sub: SubmissionCaller, ref: Caller) -> None:
    """step changes the arrays of self.params themselves: the same np.ndarray objects hold the new values."""
    sizes = [3, 4, 2]
    params, grads = random_params(sizes, 7), random_params(sizes, 8)
    held, replaced = sub.call("stand_ins.step_in_place", sub.fn("MLP"), sizes, params, grads, 0.2, forbid=NUMPY_ONLY)
    if replaced:
        raise AssertionError(f"step put new arrays into self.params for {replaced}; update the existing ones in "
                             "place (params[k] -= lr * grads[k]), so that code holding them sees the step")
    for k in params:
        assert_close(held[k], params[k] - 0.2 * grads[k], f"the array params[{k!r}] after step", rtol=1e-12,
                     atol=1e-15)


# -- Task 3.6: fit -----------------------------------------------------------------------------------

def _accuracy(params, X, y):
    return float(np.mean(torch_reference(params, X, y)[1].argmax(axis=1) == y))


@checks.add(task="3.6", points=1)
def test_fit_contract_and_progress(sub: SubmissionCaller, ref: Caller) -> None:
    """fit returns num_epochs float losses, and the loss goes down."""
    X, y = blobs(120, seed=1)
    (history,), _, _ = mlp(sub, [4, 16, 4], random_params([4, 16, 4], 3), ("fit", [X, y, 0.1, 15], {}))
    if not isinstance(history, list) or len(history) != 15:
        raise AssertionError(f"fit(..., num_epochs=15) should return a list of 15 losses, got "
                             f"{type(history).__name__} of length "
                             f"{len(history) if hasattr(history, '__len__') else '?'}")
    h = real_numbers(history, "fit's losses")
    if not np.all(np.isfinite(h)) or not h[-1] < h[0]:
        raise AssertionError(f"fit's loss should decrease: first {h[0]:.4g}, last {h[-1]:.4g}")


@checks.add(task="3.6", points=2, hidden=True)
def test_fit_reaches_accuracy(sub: SubmissionCaller, ref: Caller) -> None:
    """fit reaches 90% test accuracy on a hidden 4-class problem, full batch and mini-batch,
    from weights the grader sets (it computes the accuracy from the trained weights itself)."""
    X, y = blobs(400, seed=2)
    Xt, yt = blobs(400, seed=3)
    for sizes, kwargs, epochs, lr in (([4, 32, 4], {}, 100, 0.5), ([4, 16, 16, 4], {"batch_size": 32}, 20, 0.1)):
        start = random_params(sizes, 4, scale=np.sqrt(2.0))  # He-style, from the grader
        _, params, _ = mlp(sub, sizes, start, ("fit", [X, y, lr, epochs], kwargs))
        _expect_params(params, sizes, f"MLP({sizes}) after fit")
        acc = _accuracy(params, Xt, yt)
        if not acc >= 0.9:
            raise AssertionError(f"fit({lr=}, num_epochs={epochs}, {kwargs or 'full batch'}) on MLP({sizes}) "
                                 f"reached {acc:.1%} test accuracy; at least 90% expected")


def _fit_against_reference(sub, ref, sizes, X, y, lr, epochs, kwargs, what):
    """fit from the grader's weights in the submission and the reference: same history, same weights."""
    start = random_params(sizes, 9, scale=np.sqrt(2.0))
    call = ("fit", [X, y, lr, epochs], kwargs)
    (history,), params, _ = mlp(sub, sizes, start, call)
    (want_history,), want_params, _ = mlp(ref, sizes, start, call)
    if not isinstance(history, list) or len(history) != epochs:
        raise AssertionError(f"{what}: fit should return a list of {epochs} losses, got {type(history).__name__}")
    _expect_params(params, sizes, f"{what}: MLP({sizes}) after fit")
    sub.plot(f"MLP.fit, {what}: loss per epoch", {"yours": history, "reference": want_history}, xlabel="epoch",
             ylabel="mean batch loss")
    assert_close(real_numbers(history, f"{what}: history"), np.asarray(want_history, dtype=float), f"{what}: history",
                 rtol=1e-7, atol=1e-12)
    for k in sorted(want_params):
        assert_close(params[k], want_params[k], f"{what}: params[{k!r}] after fit", rtol=1e-7, atol=1e-12,
                     show_expected=False)


@checks.add(task="3.6", points=1)
def test_fit_full_batch_matches_reference(sub: SubmissionCaller, ref: Caller) -> None:
    """Full batch (batch_size None): history and trained weights match the reference (5 epochs)."""
    X, y = blobs(40, seed=5)
    _fit_against_reference(sub, ref, [4, 8, 4], X, y, 0.3, 5, {}, "full batch")


@checks.add(task="3.6", points=2, hidden=True)
def test_fit_minibatch_shuffle_matches_reference(sub: SubmissionCaller, ref: Caller) -> None:
    """Mini-batch fit (a permutation per epoch from default_rng(seed), short last batch) matches the reference."""
    X, y = blobs(49, seed=6)
    for seed in (3, 4):  # 49 rows in batches of 16: the last batch has 1 row, which must not be lost
        _fit_against_reference(sub, ref, [4, 8, 4], X, y, 0.2, 3, {"batch_size": 16, "seed": seed},
                               f"batch_size=16, seed={seed}")


# -- Task 4.1: fit_curve -----------------------------------------------------------------------------

CURVE_MSE = 0.01  # the reference reaches about 1e-3 in 2-3 s


def _curve(sub, f, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(200, 1, generator=g)
    x_test = torch.randn(500, 1, generator=g).clamp(x.min(), x.max())
    pred = sub.call("stand_ins.fit_curve_predictions", sub.fn("fit_curve"), x, f(x), x_test, timeout=60)
    expect_type(pred, "tensor", "model(x_test)", shape=(500, 1))
    mse = float(np.mean((real_numbers(pred, "model(x_test)") - f(x_test).numpy()) ** 2))
    if not mse < CURVE_MSE:
        raise AssertionError(f"held-out mean squared error {mse:.4g}; below {CURVE_MSE} expected")


@checks.add(task="4.1", points=1)
def test_fit_curve_square(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_curve learns y = x^2 + 3 (held-out MSE below 0.01, 60 s budget)."""
    _curve(sub, lambda x: x ** 2 + 3, seed=0)


@checks.add(task="4.1", points=2, hidden=True)
def test_fit_curve_hidden(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_curve learns another smooth curve it has not seen (held-out MSE below 0.01)."""
    _curve(sub, lambda x: 1.5 * x ** 2 - 0.5 * x + 1, seed=1)
