"""Helpers a check may pass to (or call in) the code under test, on either side.

They are resolved by name (``Ref("stand_ins.linear_model")``) in the worker for the student and in
the grader for the reference, so both run exactly the same helper. Nothing here is secret.
Handouts ship this file: a NumPy-only assignment's handout works without torch installed.
"""
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

try:
    import torch
except ImportError:  # a NumPy-only handout: the torch stand_ins are never called there
    torch = None  # type: ignore[assignment]


def _check_model_args(name: str, data: "torch.Tensor", weight: "torch.Tensor", bias: "torch.Tensor") -> None:
    """The grader's models are not symmetric in their arguments: data is a matrix (N, D),
    weight and bias are parameters of shape (D,) and (1,). ``model(weight, X, bias)`` is
    refused with a message, not quietly computed as the same line."""
    if data.dim() != 2 or weight.numel() != data.shape[-1] or bias.numel() != 1:
        raise ValueError(f"{name}(data, weight, bias) was called with data of shape {tuple(data.shape)}, "
                         f"weight of shape {tuple(weight.shape)} and bias of shape {tuple(bias.shape)}; "
                         f"expected data (N, D), weight (D,), bias (1,): are the arguments in this order?")


def linear_model(data: "torch.Tensor", weight: "torch.Tensor", bias: "torch.Tensor") -> "torch.Tensor":
    """The model of task 1.1, data @ weight + bias (= weight * data + bias for data (N, 1)), so
    later tasks are graded independently of the student's. Not symmetric in data and weight."""
    _check_model_args("model", data, weight, bias)
    return data @ weight.reshape(-1, 1) + bias


def mse_loss(y_pred: "torch.Tensor", y_true: "torch.Tensor") -> "torch.Tensor":
    """The handout's loss, mean((y_pred - y_true) ** 2) (symmetric: only where a swap cannot matter).
    torch's own, not task 1.2's reference line: every handout ships this file."""
    return torch.nn.functional.mse_loss(y_pred, y_true)


def skewed_squared_loss(y_pred: "torch.Tensor", y_true: "torch.Tensor") -> "torch.Tensor":
    """The grader's loss for the fit functions: a squared error where over-predictions
    (y_pred > y_true) cost 1.5 and under-predictions 0.5 times the squared difference.
    Its value and gradient change when y_pred and y_true are swapped, so a fit function that
    calls loss_func(Y, prediction) does not get the reference's losses."""
    diff = y_pred - y_true
    return torch.mean(torch.where(diff > 0, 1.5, 0.5) * diff ** 2)


def half_slope_model(data: "torch.Tensor", weight: "torch.Tensor", bias: "torch.Tensor") -> "torch.Tensor":
    """A different model: a fit function that ignores the model it is given is caught."""
    _check_model_args("model", data, weight, bias)
    return 0.5 * (data @ weight.reshape(-1, 1)) + bias


def pinball_loss(y_pred: "torch.Tensor", y_true: "torch.Tensor") -> "torch.Tensor":
    """A different loss, for the same reason: the pinball (quantile 0.75) loss, an L1 loss where
    over-predictions cost 0.75 and under-predictions 0.25 times |y_pred - y_true| (not symmetric)."""
    diff = y_pred - y_true
    return torch.mean(torch.maximum(0.75 * diff, -0.25 * diff))


def model_and_grads(model: Callable[..., Any], data: "torch.Tensor", weight: "torch.Tensor", bias: "torch.Tensor"
                    ) -> "tuple[Any, torch.Tensor | None, torch.Tensor | None]":
    """Output of ``model`` and d(sum of output)/d(weight, bias): is the model differentiable?"""
    weight = weight.detach().clone().requires_grad_(True)
    bias = bias.detach().clone().requires_grad_(True)
    out = model(data, weight, bias)
    torch.Tensor.sum(out).backward()
    return out, weight.grad, bias.grad


def loss_and_grad(loss_func: Callable[..., Any], y_pred: "torch.Tensor",
                  y_true: "torch.Tensor") -> "tuple[Any, torch.Tensor | None]":
    """Loss value and its gradient with respect to the predictions."""
    y_pred = y_pred.detach().clone().requires_grad_(True)
    loss = loss_func(y_pred, y_true)
    loss.backward()
    return loss, y_pred.grad


def _construct(cls: type[Any], init_args: list[Any], init_kwargs: dict[str, Any],
               params: "dict[str, np.ndarray] | None") -> Any:
    """``cls(*init_args, **init_kwargs)``; when the grader supplies the weights and the
    constructor fails (say, still a stub), an instance with just ``layer_sizes`` and ``params``,
    so that the other methods are graded on their own."""
    try:
        return cls(*init_args, **init_kwargs)
    except Exception:
        if params is None:
            raise
        obj = object.__new__(cls)
        obj.layer_sizes = list(init_args[0])
        obj.params = {}
        return obj


def use_object(cls: type[Any], init_args: list[Any], init_kwargs: dict[str, Any],
               params: "dict[str, np.ndarray] | None", calls: list[list[Any]]
               ) -> tuple[list[Any], dict[str, Any], bool]:
    """Build ``cls(*init_args, **init_kwargs)``, optionally overwrite entries of its ``params``
    dict with copies of the given arrays (same dict object), then run ``calls``, a list of
    (method, args, kwargs). Objects cannot leave the worker, so this returns plain data:
    (each call's result, the params afterwards, whether ``params`` is still the same dict)."""
    import numpy as np
    obj = _construct(cls, init_args, init_kwargs, params)
    original = obj.params
    if params is not None:
        for key, value in params.items():
            obj.params[key] = np.array(value, dtype=np.float64, copy=True)
    results = [getattr(obj, method)(*args, **kwargs) for method, args, kwargs in calls]
    return results, dict(obj.params), obj.params is original


def step_in_place(cls: type[Any], layer_sizes: list[int], params: "dict[str, np.ndarray]",
                  grads: "dict[str, np.ndarray]", lr: float) -> tuple[dict[str, Any], list[str]]:
    """Build ``cls(layer_sizes, seed=0)`` holding copies of ``params``, keep a reference to every
    array of its ``params``, call ``step(grads, lr)``, and return those same arrays as they are
    afterwards, with the keys whose entry in ``params`` is no longer that array: an in-place
    update changes the arrays themselves."""
    import numpy as np
    obj = _construct(cls, [layer_sizes], {"seed": 0}, params)
    for key, value in params.items():
        obj.params[key] = np.array(value, dtype=np.float64, copy=True)
    held = dict(obj.params)
    obj.step(grads, lr)
    after = obj.params if isinstance(obj.params, dict) else {}
    return held, sorted(k for k in held if after.get(k) is not held[k])


def loss_table(cls: type[Any], layer_sizes: list[int], params_list: "list[dict[str, np.ndarray]]",
               X: "np.ndarray", y: "np.ndarray") -> list[float]:
    """``loss(X, y)`` of one object for each of many weight settings (central differences)."""
    import numpy as np
    obj = _construct(cls, [layer_sizes], {"seed": 0}, params_list[0] if params_list else None)
    out = []
    for params in params_list:
        for key, value in params.items():
            obj.params[key] = np.array(value, dtype=np.float64, copy=True)
        out.append(float(obj.loss(X, y)))
    return out


def fit_curve_predictions(fit_curve: Callable[..., Any], x: "torch.Tensor", y: "torch.Tensor",
                          x_test: "torch.Tensor") -> Any:
    """Train with the submission's ``fit_curve`` and return its model's predictions on x_test."""
    model = fit_curve(x, y)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"fit_curve returned {type(model).__name__}, expected an nn.Module")
    with torch.no_grad():
        return model(x_test)


# -- mnist_study -----------------------------------------------------------------------------------

class GraderNet(torch.nn.Module if torch is not None else object):  # type: ignore[misc]
    """The grader's own 784-512-256-10 MLP (same state_dict keys as the handout's Net)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 512)
        self.fc2 = torch.nn.Linear(512, 256)
        self.fc3 = torch.nn.Linear(256, 10)

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        x = torch.flatten(x, 1)  # (N, 1, 28, 28) or (N, 784) -> (N, 784)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def _tensors(x: "torch.Tensor | np.ndarray",
             y: "torch.Tensor | np.ndarray") -> "tuple[torch.Tensor, torch.Tensor | np.ndarray]":
    """Images may travel as uint8 arrays (a quarter of the bytes): normalise them here."""
    from . import data
    if isinstance(x, torch.Tensor):
        return x, y
    return data.to_tensors(x, y)


def _loaded(module: "torch.nn.Module", state: "dict[str, torch.Tensor]") -> "torch.nn.Module":
    module.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    return module


def module_shapes(cls: type[Any]) -> tuple[dict[str, list[int]], int]:
    """Parameter names and shapes of ``cls()``, and its parameter count."""
    module = cls()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{cls.__name__}() is not an nn.Module")
    shapes = {name: list(p.shape) for name, p in module.named_parameters()}
    return shapes, int(sum(p.numel() for p in module.parameters()))


def module_outputs(cls: type[Any], state: "dict[str, torch.Tensor]", inputs: "list[torch.Tensor]") -> list[Any]:
    """``cls()`` loaded with ``state``, in eval mode, applied to each input tensor."""
    module = _loaded(cls(), state)
    module.eval()
    with torch.no_grad():
        return [module(x) for x in inputs]


def evaluate_with(evaluate: Callable[..., Any], state: "dict[str, torch.Tensor]", x: "torch.Tensor | np.ndarray",
                  y: "torch.Tensor | np.ndarray", batch_size: int) -> tuple[Any, bool]:
    """The submission's ``evaluate`` on the grader's model and loader; also reports whether
    the parameters changed."""
    from . import data
    model = _loaded(GraderNet(), state)
    x, y = _tensors(x, y)
    before = [p.detach().clone() for p in model.parameters()]
    accuracy = evaluate(model, data.TensorLoader(x, y, batch_size))
    changed = any(not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters()))
    return accuracy, changed


def train_with(train: Callable[..., Any], state: "dict[str, torch.Tensor]", x: "torch.Tensor | np.ndarray",
               y: "torch.Tensor | np.ndarray", batch_size: int, lr: float,
               num_epochs: int) -> "tuple[Any, dict[str, torch.Tensor]]":
    """The submission's ``train`` on the grader's model and (unshuffled) loader."""
    from . import data
    model = _loaded(GraderNet(), state)
    x, y = _tensors(x, y)
    losses = train(model, data.TensorLoader(x, y, batch_size), lr, num_epochs)
    return losses, model.state_dict()


def figure_summary(plot_losses: Callable[[Any], Any], results: Any) -> list[dict[str, Any]]:
    """What ``plot_losses(results)`` drew: figure type, and per axes its curves and labels."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    fig = plot_losses(results)
    if not isinstance(fig, Figure):
        raise TypeError(f"plot_losses returned {type(fig).__name__}, expected a matplotlib Figure")
    import numpy as np
    axes = []
    for ax in fig.get_axes():
        lines = [line for line in ax.get_lines() if len(line.get_xdata()) > 1]  # type: ignore[arg-type]
        axes.append({"curves": [len(line.get_xdata()) for line in lines],  # type: ignore[arg-type]
                     "data": [(np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float))
                              for line in lines],
                     "xlabel": str(ax.get_xlabel()), "ylabel": str(ax.get_ylabel())})
    plt.close(fig)
    return axes


def load_state_file(name: str) -> "dict[str, torch.Tensor]":
    """A handed-in state_dict, read with ``weights_only=True`` inside the worker."""
    state = torch.load(name, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise TypeError(f"{name} does not hold a state_dict (a dict of tensors)")
    return state


REGISTRY = {f"stand_ins.{name}": fn for name, fn in dict(globals()).items()
            if callable(fn) and not isinstance(fn, type) and not name.startswith("_")
            and getattr(fn, "__module__", None) == __name__}
