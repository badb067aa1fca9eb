# %% [markdown]
# # Backpropagation by hand, and a NumPy MLP
#
# You will push gradients through a small ReLU network by hand, count what a fully connected
# network costs, build a multi-layer perceptron in NumPy with a hand-written backward pass
# (checked against PyTorch's autograd), and fit a nonlinear curve with PyTorch.
#
# **Rules.** Keep every name and signature: your notebook is graded by calling them. Write your
# code where a function raises `NotImplementedError`. Parts 1 to 3 use NumPy only: the grader
# calls their functions and methods with torch unavailable, so code that uses torch there fails.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn

np.random.seed(0)
torch.manual_seed(0)

# %% [markdown]
# ## Part 1: backpropagation through two ReLU layers
#
# ### Task 1.1
# Forward: `Y2 = relu(X @ W1)`, `Y3 = relu(Y2 @ W2)`, loss `L = 0.5 * sum((T - Y3) ** 2)`
# summed over every element. Backward: return `dL/dW1` and `dL/dW2`. Take ReLU's derivative at
# 0 to be 0. Check yourself on the worked example below: `L = 62.5`,
# `dW2 = [[10, 20], [15, 30]]`, `dW1 = [[25, 25], [50, 50]]`.


# %%
def two_layer_backprop(X, W1, W2, T):
    """Task 1.1: loss and weight gradients of a two-layer ReLU network (NumPy only).

    X: (N, n_in), W1: (n_in, n_h), W2: (n_h, n_out), T: (N, n_out).
    Returns (L, dW1, dW2) with L a float and dW1, dW2 shaped like W1, W2:
        L = 0.5 * sum((T - relu(relu(X @ W1) @ W2)) ** 2)
    ReLU's derivative at 0 is 0, in both layers (hidden and output), as in torch.relu's backward.
    """
    # BEGIN SOLUTION
    S2 = X @ W1
    Y2 = np.maximum(S2, 0)
    S3 = Y2 @ W2
    Y3 = np.maximum(S3, 0)
    L = 0.5 * np.sum((T - Y3) ** 2)
    dS3 = (Y3 - T) * (S3 > 0)
    dW2 = Y2.T @ dS3
    dS2 = (dS3 @ W2.T) * (S2 > 0)
    dW1 = X.T @ dS2
    return float(L), dW1, dW2
    # END SOLUTION


# %%
try:
    L, dW1, dW2 = two_layer_backprop(np.array([[1.0, 2.0]]), np.array([[2.0, 1.0], [0.0, 1.0]]),
                                     np.array([[1.0, 2.0], [1.0, 2.0]]), np.array([[0.0, 0.0]]))
    print("L =", L, "\ndW1 =\n", dW1, "\ndW2 =\n", dW2)
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ## Part 2: what a fully connected network costs
#
# `layer_sizes` lists the widths from input to output, e.g. `[784, 512, 512, 10]` for an MNIST
# classifier. Every layer after the input has weights and biases.
#
# ### Task 2.1: parameters
# ### Task 2.2: operations
# Count each multiply-accumulate as 2 operations, plus one activation per node of every layer
# after the input. For `[784, 512, 512, 10]`: 669,706 parameters and 1,338,378 operations.


# %%
def count_params(layer_sizes):
    """Task 2.1: weights and biases of a fully connected net. Returns an int:
        sum over layers i >= 1 of layer_sizes[i-1] * layer_sizes[i] + layer_sizes[i]
    """
    # BEGIN SOLUTION
    return int(sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])))
    # END SOLUTION


def count_ops(layer_sizes):
    """Task 2.2: operations for one input. Returns an int:
        sum over layers i >= 1 of 2 * layer_sizes[i-1] * layer_sizes[i] + layer_sizes[i]
    """
    # BEGIN SOLUTION
    return int(sum(2 * a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])))
    # END SOLUTION


# %%
try:
    print(count_params([784, 512, 512, 10]), "parameters,", count_ops([784, 512, 512, 10]), "operations")
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ## Part 3: an MLP in NumPy
#
# Rows are samples. `params` holds `W1, b1, ..., WL, bL` with `Wi` of shape
# `(layer_sizes[i-1], layer_sizes[i])` and `bi` of shape `(layer_sizes[i],)`. Hidden layers use
# ReLU (its derivative at 0 is 0), the output layer softmax; the loss is the mean cross-entropy
# of integer labels. Any number of hidden layers must work. Every method reads the weights from
# `self.params`. NumPy only: no torch in this class.
#
# Tasks: 3.1 `__init__`, 3.2 `forward` (finite even for logits around ±1000), 3.3 `loss`,
# 3.4 `gradients` (same keys and shapes as `params`), 3.5 `step` (updates the arrays in place),
# 3.6 `fit`.


# %%
class MLP:
    """A fully connected ReLU network with a softmax output, in NumPy."""

    def __init__(self, layer_sizes, seed=0):
        """Task 3.1: He initialisation from rng = np.random.default_rng(seed): for each layer i,
        Wi is drawn from a normal distribution with mean 0 and standard deviation
        sqrt(2 / layer_sizes[i-1]) (the layer's fan-in), and bi = np.zeros(layer_sizes[i]).
        """
        self.layer_sizes = list(layer_sizes)
        self.params = {}
        # BEGIN SOLUTION
        rng = np.random.default_rng(seed)
        for i, (n_in, n_out) in enumerate(zip(self.layer_sizes[:-1], self.layer_sizes[1:]), start=1):
            self.params[f"W{i}"] = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))
            self.params[f"b{i}"] = np.zeros(n_out)
        # END SOLUTION

    def _layers(self):
        return len(self.layer_sizes) - 1

    def forward(self, X):
        """Task 3.2: class probabilities (N, C) for inputs X (N, D):
            softmax(z)_c = exp(z_c - max z) / sum_k exp(z_k - max z)
        """
        # BEGIN SOLUTION
        return self._forward(X)[-1]
        # END SOLUTION

    # BEGIN SOLUTION
    def _forward(self, X):
        """Activations of every layer, input first, probabilities last."""
        acts = [X]
        for i in range(1, self._layers() + 1):
            z = acts[-1] @ self.params[f"W{i}"] + self.params[f"b{i}"]
            if i < self._layers():
                acts.append(np.maximum(z, 0))
            else:
                z = z - z.max(axis=1, keepdims=True)
                e = np.exp(z)
                acts.append(e / e.sum(axis=1, keepdims=True))
        return acts
    # END SOLUTION

    def loss(self, X, y):
        """Task 3.3: mean cross-entropy, y integer labels (N,):  -mean(log p[n, y[n]])."""
        # BEGIN SOLUTION
        p = self.forward(X)
        return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-300))))
        # END SOLUTION

    def gradients(self, X, y):
        """Task 3.4: dict with the keys and shapes of params: d loss / d param.
        At the output, d loss / d logits = (p - onehot(y)) / N. Hidden layers: relu'(z) = 1 for
        z > 0 and 0 for z <= 0 (0 at exactly 0, as torch.relu's backward).
        """
        # BEGIN SOLUTION
        acts = self._forward(X)
        n = len(y)
        delta = acts[-1].copy()
        delta[np.arange(n), y] -= 1.0
        delta /= n
        grads = {}
        for i in range(self._layers(), 0, -1):
            grads[f"W{i}"] = acts[i - 1].T @ delta
            grads[f"b{i}"] = delta.sum(axis=0)
            if i > 1:
                delta = (delta @ self.params[f"W{i}"].T) * (acts[i - 1] > 0)
        return grads
        # END SOLUTION

    def step(self, grads, lr):
        """Task 3.5: gradient descent in place: for every key k, params[k] -= lr * grads[k].
        In place means the arrays themselves change: self.params stays the same dict holding the
        same np.ndarray objects (code holding self.params["W1"] sees the new values); returns None.
        """
        # BEGIN SOLUTION
        for k in self.params:
            self.params[k] -= lr * grads[k]
        # END SOLUTION

    def fit(self, X, y, lr, num_epochs, batch_size=None, seed=0):
        """Task 3.6: (mini-)batch gradient descent from the current self.params.
        Make rng = np.random.default_rng(seed) once, at the start of fit. Each epoch:
          - batch_size None: one batch holding all N rows, in their order (no shuffling);
          - otherwise order = rng.permutation(N) (one call per epoch, the only use of rng), and
            the batches are order[0:B], order[B:2B], ... with B = batch_size (the last may be
            shorter; none is dropped).
        For each batch (Xb, yb) in turn: record self.loss(Xb, yb), then take the step
        self.step(self.gradients(Xb, yb), lr). Returns a list of num_epochs floats: entry e is
        the plain mean over epoch e's batches of their recorded losses (each before its step).
        """
        # BEGIN SOLUTION
        rng = np.random.default_rng(seed)
        n = len(X)
        size = n if batch_size is None else batch_size
        history = []
        for _ in range(num_epochs):
            order = rng.permutation(n) if batch_size is not None else np.arange(n)
            losses = []
            for start in range(0, n, size):
                idx = order[start:start + size]
                losses.append(self.loss(X[idx], y[idx]))
                self.step(self.gradients(X[idx], y[idx]), lr)
            history.append(float(np.mean(losses)))
        return history
        # END SOLUTION


# %%
def spirals(n_per_class=100, classes=3, seed=0):
    """The classic spiral data set: X (N, 2), y (N,) integer labels."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for c in range(classes):
        r = np.linspace(0.0, 1, n_per_class)
        t = np.linspace(c * 4, (c + 1) * 4, n_per_class) + rng.normal(0, 0.2, n_per_class)
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(n_per_class, c))
    return np.concatenate(X), np.concatenate(y)


try:
    Xs, ys = spirals()
    net = MLP([2, 64, 64, 3], seed=0)
    history = net.fit(Xs, ys, lr=0.5, num_epochs=300, batch_size=32)
    accuracy = np.mean(net.forward(Xs).argmax(axis=1) == ys)
    print(f"training accuracy on the spirals: {accuracy:.1%}")
    plt.plot(history)
    plt.xlabel("epoch")
    plt.ylabel("loss")
    plt.show()
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ## Part 4: a nonlinear curve in PyTorch
#
# ### Task 4.1
# `fit_curve(x, y)` gets `x, y` float tensors of shape `(N, 1)` from a smooth curve such as
# `y = x ** 2 + 3` with `x ~ N(0, 1)`, and returns a trained `nn.Module` mapping `(N, 1)` to
# `(N, 1)`. The grader calls it on data you have not seen (200 points), allows 60 seconds, and
# measures the mean squared error on 500 new points from the same range: it passes below 0.01.


# %%
def fit_curve(x, y):
    """Task 4.1: train and return an nn.Module with model(x) ~ y; x, y: (N, 1) tensors.
        minimise mean((model(x) - y) ** 2)
    Pass mark: mean((model(x_new) - y_new) ** 2) < 0.01 on new points x_new from the range of x,
    with at most 60 seconds for fit_curve.
    """
    # BEGIN SOLUTION
    torch.manual_seed(0)
    mean, std = x.mean(), x.std()
    y_mean, y_std = y.mean(), y.std()
    net = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    xs, ys = (x - mean) / std, (y - y_mean) / y_std
    for _ in range(1500):
        opt.zero_grad()
        loss = torch.mean((net(xs) - ys) ** 2)
        loss.backward()
        opt.step()

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, inputs):
            return self.net((inputs - mean) / std) * y_std + y_mean

    return Scaled()
    # END SOLUTION


# %%
try:
    x_demo = torch.randn(200, 1)
    y_demo = x_demo ** 2 + 3
    curve = fit_curve(x_demo, y_demo)
    grid = torch.linspace(-2.5, 2.5, 100).view(-1, 1)
    with torch.no_grad():
        plt.plot(grid.numpy(), curve(grid).numpy(), label="fit")
    plt.plot(x_demo.numpy(), y_demo.numpy(), ".", label="data")
    plt.legend()
    plt.show()
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ### Question 4.2 (written, graded by hand)
# Why does a network need nonlinear activations? What would three stacked linear layers compute?
#
# <!-- BEGIN SOLUTION -->
# Without a nonlinearity, stacked layers compose into one linear (affine) map: W3(W2(W1 x)) is
# just W x. Such a network can only draw straight decision boundaries and fit straight lines, so
# it cannot represent y = x² + 3 or separate the spirals. ReLU or tanh between layers lets each
# layer bend the space, and the stack can approximate any continuous function.
# <!-- END SOLUTION -->
#
# ### Question 4.3 (written, graded by hand)
# In the course's curve-fitting run, the loss fell, then jumped up by orders of magnitude before
# falling again. What does that say about the learning rate, and what would you change?
#
# <!-- BEGIN SOLUTION -->
# The step was too large for the curvature where training had arrived: the update overshot the
# valley, landing where the loss is much higher, and training had to recover. Lower the learning
# rate (or decay it, or use warm-up/gradient clipping) so steps stay inside the region where the
# local gradient is a good guide.
# <!-- END SOLUTION -->
