"""Helpers a check may pass to (or call in) the code under test, on either side.

They are resolved by name (``Ref("probes.linear_model")``) in the worker for the student and in
the grader for the reference, so both run exactly the same helper. Nothing here is secret.
"""
import torch


def linear_model(data, weight, bias):
    """The model of task 1.1, so later tasks are graded independently of the student's."""
    return weight * data + bias


def mse_loss(y_pred, y_true):
    return torch.mean((y_pred - y_true) ** 2)


def half_slope_model(data, weight, bias):
    """A different model: a fit function that ignores the model it is given is caught."""
    return 0.5 * weight * data + bias


def mae_loss(y_pred, y_true):
    """A different loss (L1), for the same reason."""
    return torch.mean(torch.abs(y_pred - y_true))


def model_and_grads(model, data, weight, bias):
    """Output of ``model`` and d(sum of output)/d(weight, bias): is the model differentiable?"""
    weight = weight.detach().clone().requires_grad_(True)
    bias = bias.detach().clone().requires_grad_(True)
    out = model(data, weight, bias)
    torch.Tensor.sum(out).backward()
    return out, weight.grad, bias.grad


def loss_and_grad(loss_func, y_pred, y_true):
    """Loss value and its gradient with respect to the predictions."""
    y_pred = y_pred.detach().clone().requires_grad_(True)
    loss = loss_func(y_pred, y_true)
    loss.backward()
    return loss, y_pred.grad


def _construct(cls, init_args, init_kwargs, params):
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


def use_object(cls, init_args, init_kwargs, params, calls):
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


def loss_table(cls, layer_sizes, params_list, X, y):
    """``loss(X, y)`` of one object for each of many weight settings (central differences)."""
    import numpy as np
    obj = _construct(cls, [layer_sizes], {"seed": 0}, params_list[0] if params_list else None)
    out = []
    for params in params_list:
        for key, value in params.items():
            obj.params[key] = np.array(value, dtype=np.float64, copy=True)
        out.append(float(obj.loss(X, y)))
    return out


def fit_curve_predictions(fit_curve, x, y, x_test):
    """Train with the submission's ``fit_curve`` and return its model's predictions on x_test."""
    model = fit_curve(x, y)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"fit_curve returned {type(model).__name__}, expected an nn.Module")
    with torch.no_grad():
        return model(x_test)


REGISTRY = {f"probes.{name}": fn for name, fn in dict(globals()).items()
            if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", None) == __name__}
