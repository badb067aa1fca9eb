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


REGISTRY = {f"probes.{name}": fn for name, fn in dict(globals()).items()
            if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", None) == __name__}
