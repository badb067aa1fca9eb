"""mlp_backprop: hand backprop through two ReLU layers, parameter and operation counts, a NumPy
MLP with a hand-written backward pass, and a PyTorch curve fit (seeds 000, 003 and 004)."""
from autograder.assignments import Assignment

ASSIGNMENT = Assignment(
    tasks={
        "1.1": "two_layer_backprop",
        "2.1": "count_params",
        "2.2": "count_ops",
        "3.1": "MLP.__init__",
        "3.2": "MLP.forward",
        "3.3": "MLP.loss",
        "3.4": "MLP.gradients",
        "3.5": "MLP.step",
        "3.6": "MLP.fit",
        "4.1": "fit_curve",
    },
    manual={
        "4.2": "Why nonlinear activations are needed",
        "4.3": "What the learning-rate overshoot in the loss curve shows",
    },
    # Definitions only: the spiral training and the curve-fit demo never run during grading.
    load_mode="definitions",
)
