"""gradient_descent: a line fitted by GD and mini-batch GD in PyTorch, GD in NumPy, and a
perceptron trained by batch GD vs SGD (seeds 002, 004 and the perceptron parts of 000)."""
from autograder.assignments import Assignment

ASSIGNMENT = Assignment(
    tasks={
        "1.1": "model",
        "1.2": "loss_func",
        "1.3": "fit_GD",
        "1.4": "fit_BGD",
        "2.1": "fit_numpy",
        "3.1": "train_perceptron",
    },
    manual={
        "1.5": "When to use mini-batch gradient descent",
        "3.2": "What the batch vs SGD curves show",
    },
    # Only definitions are loaded: the notebook's experiment cells (training, plots) never run
    # during grading, and the checks call every graded function themselves.
    load_mode="definitions",
)
