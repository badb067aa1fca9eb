"""Known bugs for mnist_study: code edits of the reference, and handed-in files that lie."""
import json
import shutil

import torch

from autograder import assignments
from variants import variant_makers

SOLUTION = assignments.get("mnist_study").solution
FORWARD = "        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))\n"

CODE_BUGS = {
    "softmax_in_forward": (
        [("Net.forward", FORWARD,
          "        return F.softmax(self.fc3(F.relu(self.fc2(F.relu(self.fc1(x))))), dim=1)\n")],
        ["test_net_forward_images", "test_net_forward_flat_rows"]),
    "wrong_layer_width": (
        [("Net.__init__", "nn.Linear(512, 256)", "nn.Linear(512, 128)"),
         ("Net.__init__", "nn.Linear(256, 10)", "nn.Linear(128, 10)")],
        ["test_net_architecture", "test_net_forward_images"]),
    "missing_relu": (
        [("Net.forward", FORWARD, "        return self.fc3(self.fc2(F.relu(self.fc1(x))))\n")],
        ["test_net_forward_images", "test_net_forward_flat_rows"]),
    "no_zero_grad": (
        [("train", "            optimizer.zero_grad(set_to_none=True)\n", "")],
        ["test_train_matches_reference_epoch"]),
    "adam_instead_of_sgd": (
        [("train", "optim.SGD(model.parameters(), lr=lr)", "optim.Adam(model.parameters(), lr=lr)")],
        ["test_train_matches_reference_epoch", "test_train_learns"]),
    "epoch_loss_from_last_batch": (
        [("train", "        history.append(float(total) / batches)\n", "        history.append(loss.item())\n")],
        ["test_train_matches_reference_epoch"]),
    "accuracy_as_fraction": (
        [("evaluate", "    return 100.0 * correct / total\n", "    return correct / total\n")],
        ["test_evaluate_percent", "test_evaluate_short_last_batch"]),
    "accuracy_of_last_batch_only": (
        [("evaluate", "            correct += int((model(x).argmax(dim=1) == y).sum())\n            total += len(y)\n",
          "            correct = int((model(x).argmax(dim=1) == y).sum())\n            total = len(y)\n")],
        ["test_evaluate_short_last_batch"]),
}

FILE_BUGS = {
    # name: (how the handed-in files are changed, checks that must fail)
    "untrained_weights": ("untrained", ["test_handed_in_model_accuracy", "test_study_results_match_weights"]),
    "mismatched_weights": ("mismatched", ["test_handed_in_model_accuracy", "test_study_results_match_weights"]),
    "reported_accuracy_not_reproduced": ("inflated", ["test_study_results_match_weights"]),
    "reported_accuracy_nan": ("nan_accuracy", ["test_study_results_match_weights"]),  # NaN > tol is False
    "missing_configuration": ("missing_config", ["test_study_results_complete"]),
}


reference_text = variant_makers(SOLUTION, CODE_BUGS, {})[0]


def make_folder(dest, text, files_from, change=None):
    """A submission folder: the notebook source plus the study's files, optionally altered."""
    dest.mkdir(parents=True)
    (dest / "mnist_study.py").write_text(text, encoding="utf-8")
    for name in ("study_results.json", "mnist_model.pt"):
        shutil.copy(files_from / name, dest / name)
    if change == "untrained":
        torch.manual_seed(123)
        fresh = {"fc1.weight": torch.randn(512, 784) * 0.03, "fc1.bias": torch.zeros(512),
                 "fc2.weight": torch.randn(256, 512) * 0.04, "fc2.bias": torch.zeros(256),
                 "fc3.weight": torch.randn(10, 256) * 0.06, "fc3.bias": torch.zeros(10)}
        torch.save(fresh, dest / "mnist_model.pt")
    elif change == "mismatched":
        state = torch.load(dest / "mnist_model.pt", weights_only=True)
        state["fc2.weight"], state["fc2.bias"] = state["fc2.weight"][:128], state["fc2.bias"][:128]
        state["fc3.weight"] = state["fc3.weight"][:, :128]
        torch.save(state, dest / "mnist_model.pt")
    elif change in ("inflated", "nan_accuracy", "missing_config"):
        results = json.loads((dest / "study_results.json").read_text())
        if change == "inflated":
            results["32,0.1"]["test_acc"] = 99.9
        elif change == "nan_accuracy":
            results["32,0.1"]["test_acc"] = float("nan")  # json writes NaN, and reads it back
        else:
            del results["8,0.1"]
        (dest / "study_results.json").write_text(json.dumps(results))
    return dest
