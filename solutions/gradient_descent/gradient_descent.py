# %% [markdown]
# # Gradient descent, three ways
#
# In this assignment you fit a line by gradient descent in PyTorch (full batch and mini-batch),
# write the same algorithm in plain NumPy with a gradient you derive by hand, and compare batch
# gradient descent with stochastic gradient descent on a tiny perceptron.
#
# **Rules.** Keep every function's name and signature: your notebook is graded by calling them.
# Write your code where a function raises `NotImplementedError`. Cells that run experiments print
# a reminder instead of failing while a task is still open. Written answers are graded by hand.

# %%
import random

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

random.seed(0)
np.random.seed(0)
torch.manual_seed(0)

# %% [markdown]
# ## Data
# 200 points on the line y = 3x, with Gaussian noise of standard deviation 0.5.
# `X` and `Y` are float tensors of shape `(200, 1)`.

# %%
X = torch.arange(-10, 10, 0.1).view(-1, 1)
Y = 3 * X + 0.5 * torch.randn(X.size())

plt.plot(X.numpy(), Y.numpy(), ".", markersize=3)
plt.xlabel("X")
plt.ylabel("Y")
plt.show()

# %% [markdown]
# ## Part 1: gradient descent in PyTorch
#
# ### Task 1.1: the model
# A line: `weight * data + bias`.


# %%
def model(data, weight, bias):
    """Task 1.1: linear model.

    data: tensor (N, 1); weight, bias: tensors (1,). Returns a tensor (N, 1):
        y_hat = weight * data + bias
    """
    # BEGIN SOLUTION
    return weight * data + bias
    # END SOLUTION


# %% [markdown]
# ### Task 1.2: the loss
# Mean squared error, returned as a 0-dim tensor that autograd can differentiate.


# %%
def loss_func(y_pred, y_true):
    """Task 1.2: mean squared error.

    y_pred, y_true: tensors of the same shape, e.g. (N, 1). Returns a 0-dim tensor:
        L = mean((y_pred - y_true) ** 2)
    """
    # BEGIN SOLUTION
    return torch.mean((y_pred - y_true) ** 2)
    # END SOLUTION


# %% [markdown]
# ### Task 1.3: full-batch gradient descent
# Each epoch: compute the loss on all the data, record it, then take one gradient step.
# Use the `model` and `loss_func` you are given (the grader passes other ones too), with their
# arguments in the order of tasks 1.1 and 1.2: `loss_func(model(X, weight, bias), Y)`. The
# grader's model and loss are not symmetric in their arguments: a swap changes the losses.


# %%
def fit_GD(model, loss_func, X, Y, lr, num_epochs):
    """Task 1.3: full-batch gradient descent.

    X, Y: tensors (N, 1); lr: float; num_epochs: int. The loss is loss_func(model(X, weight, bias), Y)
    (predictions first, targets second). Returns an np.ndarray (num_epochs,): entry e is the loss
    on all the data at the start of epoch e, before that epoch's update
        w <- w - lr * dL/dw,  b <- b - lr * dL/db.
    """
    # Parameters are created here, in this order, so that a seed fixes the starting point.
    weight = torch.rand(size=(1,), requires_grad=True)
    bias = torch.rand(size=(1,), requires_grad=True)
    # BEGIN SOLUTION
    losses = np.zeros(num_epochs)
    for epoch in range(num_epochs):
        loss = loss_func(model(X, weight, bias), Y)
        losses[epoch] = loss.item()
        weight.grad = None
        bias.grad = None
        loss.backward()
        with torch.no_grad():
            weight -= lr * weight.grad
            bias -= lr * bias.grad
    return losses
    # END SOLUTION


# %%
try:
    loss_GD = fit_GD(model, loss_func, X, Y, lr=0.01, num_epochs=20)
    plt.plot(loss_GD)
    plt.xlabel("epoch")
    plt.ylabel("loss")
    plt.title("Full-batch gradient descent")
    plt.show()
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ### Task 1.4: mini-batch gradient descent
# Split the data with `torch.split(X, batch_size)` (keep the order; the last batch may be
# shorter). Take one step per batch. An epoch's loss is the mean over its batches of each
# batch's loss, taken before that batch's step.


# %%
def fit_BGD(model, loss_func, X, Y, lr, num_epochs, batch_size):
    """Task 1.4: mini-batch gradient descent.

    X, Y: tensors (N, 1); batch_size: int. Returns an np.ndarray (num_epochs,):
        loss[e] = (1 / num_batches) * sum over batches B of L_B, each L_B before its update,
    with L_B = loss_func(model(x_B, weight, bias), y_B) (predictions first, targets second).
    """
    weight = torch.rand(size=(1,), requires_grad=True)
    bias = torch.rand(size=(1,), requires_grad=True)
    # BEGIN SOLUTION
    losses = np.zeros(num_epochs)
    for epoch in range(num_epochs):
        batch_losses = []
        for x_batch, y_batch in zip(torch.split(X, batch_size), torch.split(Y, batch_size)):
            loss = loss_func(model(x_batch, weight, bias), y_batch)
            batch_losses.append(loss.item())
            weight.grad = None
            bias.grad = None
            loss.backward()
            with torch.no_grad():
                weight -= lr * weight.grad
                bias -= lr * bias.grad
        losses[epoch] = np.mean(batch_losses)
    return losses
    # END SOLUTION


# %%
try:
    loss_BGD = fit_BGD(model, loss_func, X, Y, lr=0.01, num_epochs=20, batch_size=10)
    plt.plot(loss_BGD)
    plt.xlabel("epoch")
    plt.ylabel("loss")
    plt.title("Mini-batch gradient descent (batch size 10)")
    plt.show()
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ### Question 1.5 (written, graded by hand)
# When would you train with mini-batch gradient descent rather than full-batch gradient
# descent? Mention memory, the cost of one update and the noise in the gradient.
#
# <!-- BEGIN SOLUTION -->
# Full-batch descent computes the exact gradient but needs every example for one step: its
# cost per update grows with the data set and it may not fit in memory. Mini-batches give
# many cheap, slightly noisy updates per pass over the data, which usually reaches a good
# loss in less time, fits in memory, and uses vectorised hardware well. Use full batches for
# small data sets where exact, smooth steps are affordable; use mini-batches otherwise.
# <!-- END SOLUTION -->

# %% [markdown]
# ## Part 2: the same algorithm in NumPy
#
# ### Task 2.1: hand-derived gradients
# For a linear model `X @ w + b` and loss `L = mean((X @ w + b - y) ** 2)`, derive dL/dw and
# dL/db yourself and run full-batch gradient descent. NumPy only: no torch, no autograd.


# %%
def fit_numpy(X, y, lr, num_iters):
    """Task 2.1: gradient descent for linear regression in NumPy.

    X: (N, D), y: (N,). Start from w = zeros(D), b = 0.0. Returns (w, b, losses):
    w (D,), b a float, losses np.ndarray (num_iters,) with losses[i] the loss before update i.
        dL/dw = (2 / N) * X.T @ (X @ w + b - y),   dL/db = (2 / N) * sum(X @ w + b - y)
    """
    # BEGIN SOLUTION
    n, d = X.shape
    w = np.zeros(d)
    b = 0.0
    losses = np.zeros(num_iters)
    for i in range(num_iters):
        residual = X @ w + b - y
        losses[i] = np.mean(residual ** 2)
        grad_w = 2.0 / n * (X.T @ residual)
        grad_b = 2.0 / n * np.sum(residual)
        w = w - lr * grad_w
        b = b - lr * grad_b
    return w, float(b), losses
    # END SOLUTION


# %%
try:
    w_np, b_np, losses_np = fit_numpy(X.numpy().astype(np.float64), Y.numpy().ravel().astype(np.float64),
                                      lr=0.01, num_iters=20)
    print(f"w = {w_np}, b = {b_np:.4f}, final loss = {losses_np[-1]:.4f}")
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ## Part 3: a perceptron, batch gradient descent vs SGD
#
# Three points, two inputs, one output, no bias. Start from the weight `[[1., -1.]]` and train
# with `optim.SGD(lr=lr, momentum=momentum)` and `nn.MSELoss()`.

# %%
data = torch.tensor([[1.0, 3.0], [2.0, 6.0], [3.0, 9.0]])
target = torch.tensor([[1.0], [5.0], [13.0]])

# %% [markdown]
# ### Task 3.1: one function, two modes
# `mode="batch"`: one step per epoch on all the rows; the epoch's loss is the loss before the
# step. `mode="sgd"`: one step per row, rows in order; the epoch's loss is the mean of that
# epoch's per-row losses, each taken before its step.


# %%
def train_perceptron(data, target, mode, num_epochs, lr=0.01, momentum=0.5):
    """Task 3.1: train nn.Linear(2, 1, bias=False) from weight [[1., -1.]].

    data: tensor (N, 2); target: tensor (N, 1); mode: "batch" or "sgd".
    Returns (net, history): the trained nn.Linear and an np.ndarray (num_epochs,) of epoch losses,
        L = mean((net(x) - t) ** 2)   (nn.MSELoss)
    """
    # BEGIN SOLUTION
    net = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, -1.0]]))
    optimizer = optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    criterion = nn.MSELoss()
    if mode == "batch":
        pairs = [(data, target)]
    elif mode == "sgd":
        pairs = [(data[i:i + 1], target[i:i + 1]) for i in range(len(data))]
    else:
        raise ValueError(f"mode must be 'batch' or 'sgd', got {mode!r}")
    history = np.zeros(num_epochs)
    for epoch in range(num_epochs):
        step_losses = []
        for x, t in pairs:
            optimizer.zero_grad()
            loss = criterion(net(x), t)
            step_losses.append(loss.item())
            loss.backward()
            optimizer.step()
        history[epoch] = np.mean(step_losses)
    return net, history
    # END SOLUTION


# %%
try:
    for mode in ("batch", "sgd"):
        net, history = train_perceptron(data, target, mode, num_epochs=300)
        plt.plot(history, label=mode)
    plt.yscale("log")
    plt.xlabel("epoch")
    plt.ylabel("loss")
    plt.legend()
    plt.show()
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ### Question 3.2 (written, graded by hand)
# Compare the two curves. Why is one smooth and the other not, and where does each settle?
#
# <!-- BEGIN SOLUTION -->
# The batch curve falls steadily and flattens: every step uses the gradient of the whole
# loss, so each update (helped by momentum) moves towards the same least-squares solution.
# The SGD curve keeps oscillating: each step follows one point's gradient, which pulls the
# weights towards that point, so the per-row losses never settle together. No line through
# the origin fits all three points, so neither loss reaches zero; SGD hovers above the
# batch minimum unless the learning rate is decreased.
# <!-- END SOLUTION -->
