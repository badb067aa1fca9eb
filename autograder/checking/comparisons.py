"""Comparing what a submission returned with what was expected, with messages that name what
was expected and what was got (``torch.testing.assert_close``-style). Every comparison fails on
NaN and inf where the expected value is finite, and on complex or object values."""
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..runtime.codec import ModuleData, Opaque, TensorData

def describe(value: Any) -> str:
    """A short, student-readable description of a returned value's type."""
    if isinstance(value, np.ndarray):
        return f"np.ndarray of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, TensorData):
        return f"torch.Tensor of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, Opaque):
        return str(value.type_name)
    if isinstance(value, ModuleData):
        return str(value.cls)
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of length {len(value)}"
    return type(value).__name__


REAL_KINDS = "biuf"  # NumPy dtype kinds a comparison accepts: bool, signed and unsigned int, float


def as_array(value: Any, what: str) -> np.ndarray:
    """``value``'s numbers as an array; an AssertionError naming what was got when they are
    not real numbers (complex values would lose their imaginary part in a comparison)."""
    if isinstance(value, TensorData):
        arr = value.array
    elif isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, (np.generic, int, float)) and not isinstance(value, bool):
        arr = np.asarray(value)
    else:
        raise AssertionError(f"{what}: expected numbers, got {describe(value)}")
    if arr.dtype.kind not in REAL_KINDS:
        raise AssertionError(f"{what}: expected real numbers, got {describe(value)}")
    return np.asarray(arr)


def real_numbers(value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 array when it is real numbers in any container a student might
    use (array, tensor, list or tuple of numbers); an AssertionError naming what was got
    otherwise (complex numbers, ragged lists, strings, None)."""
    if isinstance(value, (TensorData, np.ndarray, np.generic, int, float)) and not isinstance(value, bool):
        return as_array(value, what).astype(np.float64)
    if isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):
            arr = None
        if arr is not None and arr.dtype.kind in REAL_KINDS:
            return arr.astype(np.float64)
    raise AssertionError(f"{what}: expected real numbers, got {describe(value)}")


def expect_type(value: Any, kind: str, what: str, shape: Sequence[int] | None = None) -> None:
    """Fail (AssertionError) unless ``value`` is of ``kind`` and, when given, of ``shape``.

    Parameters:
        kind: "ndarray", "tensor" (a torch tensor, as ``TensorData``), "float" (a real
            number, not a bool) or "tuple" (a tuple or list).
        what: the call, as the message names it ("fit_GD(X, Y, ...)").
        shape: the exact shape (the length, for "tuple").
    """
    ok = {"ndarray": isinstance(value, np.ndarray), "tensor": isinstance(value, TensorData),
          "float": isinstance(value, (float, np.floating, int, np.integer)) and not isinstance(value, (bool, np.bool_)),
          "tuple": isinstance(value, (tuple, list))}[kind]
    names = {"ndarray": "np.ndarray", "tensor": "torch.Tensor", "float": "a float", "tuple": "a tuple"}
    if not ok:
        raise AssertionError(f"{what}: expected {names[kind]}, got {describe(value)}")
    if shape is not None and tuple(np.shape(value.array if kind == "tensor" else value)) != tuple(shape):
        got = value.shape if kind in ("tensor", "ndarray") else len(value)
        raise AssertionError(f"{what}: expected shape {tuple(shape)}, got {got}")


def assert_close(actual: Any, expected: Any, what: str, rtol: float = 1e-5, atol: float = 1e-8,
                 show_expected: bool = True) -> None:
    """torch.testing.assert_close-style comparison with a message naming what differs:
    |actual - expected| <= atol + rtol * |expected| everywhere, or an AssertionError naming the
    shapes, the count of mismatched elements, the greatest differences and the first bad one.

    Parameters:
        actual, expected: real numbers (arrays, tensors, numbers); NaN or inf in ``actual``
            where ``expected`` is finite fails; complex or object values fail.
        what: the call, as the message names it.
        show_expected: False in hidden value checks whose expected values must not leak.
    """
    a = np.asarray(as_array(actual, what), dtype=np.float64)
    e = np.asarray(as_array(expected, what), dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"{what}: shape mismatch: expected {e.shape}, got {a.shape}")
    if not np.all(np.isfinite(a)) and np.all(np.isfinite(e)):
        found = np.flatnonzero(~np.isfinite(a))
        raise AssertionError(f"{what}: {found.size} non-finite value(s), first at index "
                             f"{tuple(int(i) for i in np.unravel_index(found[0], a.shape))}: {a.flat[found[0]]}")
    diff = np.abs(a - e)
    allowed = atol + rtol * np.abs(e)
    bad = ~(diff <= allowed)
    if not bad.any():
        return
    flat = int(np.argmax(np.where(bad, diff - allowed, -np.inf)))
    idx = np.unravel_index(flat, a.shape) if a.ndim else ()
    rel = diff / np.maximum(np.abs(e), 1e-12)
    lines = [f"{what}: values are not close!",
             f"Mismatched elements: {int(bad.sum())} / {a.size} ({100 * bad.mean():.1f}%)",
             f"Greatest absolute difference: {diff.max():.6g} (up to {atol:g} allowed)",
             f"Greatest relative difference: {rel.max():.6g} (up to {rtol:g} allowed)"]
    where = f" at index {tuple(int(i) for i in idx)}" if a.ndim else ""
    if show_expected:
        lines.append(f"First bad element{where}: got {a[idx]:.6g}, expected {e[idx]:.6g}")
    else:
        lines.append(f"First bad element{where}: got {a[idx]:.6g}")
    raise AssertionError("\n".join(lines))


def relative_error(a: Any, b: Any) -> float:
    """CS231n-style max relative error |a-b| / max(|a|+|b|, 1e-8): NaN where either holds NaN
    or inf, so compare it with ``if not err <= tol`` (which fails on NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind not in REAL_KINDS or b.dtype.kind not in REAL_KINDS:
        return float("nan")  # complex or objects: never "close"
    a, b = a.astype(np.float64), b.astype(np.float64)
    if not a.size:
        return 0.0
    with np.errstate(invalid="ignore"):  # inf - inf: NaN is the answer, not a warning on the grader's terminal
        err = np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)
    return float("nan") if np.isnan(err).any() else float(np.max(err))


def isclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """Two real numbers within tolerance; False for NaN, inf, complex or non-numbers."""
    if any(np.asarray(x).dtype.kind not in REAL_KINDS or np.asarray(x).size != 1 for x in (a, b)):
        return False
    return math.isclose(float(np.asarray(a).reshape(())), float(np.asarray(b).reshape(())), rel_tol=rtol,
                        abs_tol=atol)
