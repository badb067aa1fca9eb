"""Plain-data codec between the grader and the worker.

Only JSON crosses the process boundary. NumPy arrays and tensors travel as base64 bytes with
an explicit numeric dtype; student objects are never pickled. Decoding never runs code: the
worst a hostile payload can do is be rejected.
"""
import base64
import json
import math
import struct
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
SHORT = 200  # characters kept of a type name or an opaque value's text
# Only numeric and boolean dtypes may cross: object arrays could hold arbitrary objects.
SAFE_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "float16", "float32", "float64", "complex64", "complex128"}


class CodecError(ValueError):
    """A value could not be turned into (or read back from) plain data."""


class TensorData:
    """A torch tensor as seen by the grader: its values plus the flags checks care about."""

    def __init__(self, array: np.ndarray, requires_grad: bool = False, dtype: str | None = None):
        self.array = array
        self.requires_grad = bool(requires_grad)
        self.dtype = dtype or f"torch.{array.dtype}"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def numpy(self) -> np.ndarray:
        return self.array

    def __repr__(self):
        return f"TensorData(shape={self.shape}, dtype={self.dtype}, requires_grad={self.requires_grad})"


class ModuleData:
    """An nn.Module reduced to its class name and its state_dict."""

    def __init__(self, cls: str, state: dict[str, Any]):
        self.cls = cls
        self.state = state

    def __repr__(self):
        return f"ModuleData({self.cls}, keys={sorted(self.state)})"


class Opaque:
    """Anything else: only its type name and a short repr cross back."""

    def __init__(self, type_name: str, text: str):
        self.type_name = type_name
        self.text = text

    def __repr__(self):
        return f"<{self.type_name}: {self.text}>"


class Ref:
    """A name resolved on the other side: a student function or a probe (see stand_ins.py)."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"Ref({self.name!r})"


def _type_name(x):
    t = type(x)
    name = f"{type.__getattribute__(t, '__module__')}.{type.__getattribute__(t, '__qualname__')}"
    return name.removeprefix("builtins.")


def _array_payload(arr):
    arr = np.asarray(arr, order="C")  # (ascontiguousarray would turn 0-dim into 1-dim)
    dtype = str(arr.dtype)
    if dtype not in SAFE_DTYPES:
        raise CodecError(f"arrays of dtype {dtype} cannot be graded")
    return {"dtype": dtype, "shape": list(arr.shape), "data": base64.b64encode(arr.tobytes()).decode("ascii")}


def _float(x):
    x = float(x)
    if math.isfinite(x):
        return x
    return {"__float__": repr(x)}  # nan/inf: JSON has no literal for them


def to_plain(x: Any, depth: int = 0) -> Any:
    """Turn a value into JSON-able plain data. Runs on whichever side produced the value.

    Exact builtin types are checked with ``type(x) is`` so that subclasses with rigged
    operators are reduced to their plain values (or reported as opaque) instead of travelling.
    """
    if depth > 20:
        raise CodecError("value nested too deeply")
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x if abs(x) < 2**63 else {"__bigint__": str(x)}
    if t is float:
        return _float(x)
    if isinstance(x, Ref):
        return {"__ref__": str(x.name)}
    if t is list or t is tuple:
        return {"__list__" if t is list else "__tuple__": [to_plain(v, depth + 1) for v in x]}
    if t is dict or t is OrderedDict:  # state_dict() is an OrderedDict
        return {"__dict__": [[to_plain(k, depth + 1), to_plain(v, depth + 1)] for k, v in x.items()]}
    if isinstance(x, np.generic):
        # NumPy scalars (and subclasses) become their exact Python value, tagged with the dtype.
        arr = np.asarray(x).view(np.ndarray)
        return {"__npscalar__": _array_payload(arr.reshape(1)), "type": _type_name(x)}
    if isinstance(x, np.ndarray):
        return {"__ndarray__": _array_payload(np.asarray(x).view(np.ndarray)), "type": _type_name(x)}
    if isinstance(x, TensorData):
        return {"__tensor__": _array_payload(x.array), "requires_grad": x.requires_grad, "dtype": x.dtype,
                "type": "torch.Tensor"}
    if isinstance(x, ModuleData):
        return {"__module__": x.cls, "state": to_plain(x.state, depth + 1)}
    torch = _torch()
    if torch is not None:
        if isinstance(x, torch.Tensor):
            plain = torch.Tensor.detach(x).cpu()
            dtype = str(plain.dtype)
            if plain.dtype == torch.bfloat16:
                plain = plain.float()
            arr = torch.Tensor.numpy(torch.Tensor.resolve_conj(plain))
            return {"__tensor__": _array_payload(arr), "requires_grad": bool(x.requires_grad),
                    "dtype": dtype, "type": _type_name(x)}
        if isinstance(x, torch.nn.Module):
            state = {str(k): v for k, v in torch.nn.Module.state_dict(x).items()}
            return {"__module__": _type_name(x)[:SHORT], "state": to_plain(state, depth + 1)}
    text = object.__repr__(x)
    return {"__opaque__": _type_name(x)[:SHORT], "text": text[:SHORT]}


def _torch():
    """torch if it is loaded; not a stand-in for it (``absent.py``: a worker without torch)."""
    import sys
    torch = sys.modules.get("torch")
    return None if torch is None or getattr(torch, "__forbidden__", False) is True else torch


MAX_DIMS, MAX_SIDE = 32, 1 << 40


def _short(x):
    return str(x)[:SHORT]


def _array_from(payload):
    if not isinstance(payload, dict):
        raise CodecError("array payload is not a mapping")
    dtype = payload.get("dtype")
    if dtype not in SAFE_DTYPES:
        raise CodecError(f"refusing dtype {_short(dtype)!r}")
    shape = payload.get("shape")
    if (not isinstance(shape, list) or len(shape) > MAX_DIMS
            or not all(type(s) is int and 0 <= s <= MAX_SIDE for s in shape)):
        raise CodecError("array shape is not a list of sizes")
    shape = tuple(shape)
    if not isinstance(payload.get("data"), str):
        raise CodecError("array data is not base64 text")
    raw = base64.b64decode(payload["data"], validate=True)
    arr = np.frombuffer(raw, dtype=np.dtype(dtype))
    if arr.size != math.prod(shape):
        raise CodecError("array payload does not match its shape")
    return arr.reshape(shape).copy()


def make_tensor(arr: np.ndarray, requires_grad: bool = False, dtype: str | None = None) -> Any:
    """A real tensor from a decoded array (for ``from_plain`` where torch is in use)."""
    import torch
    t = torch.from_numpy(arr.copy())
    return t.requires_grad_(True) if requires_grad else t


def from_plain(x: Any, make_tensor: Callable[..., Any] | None = None,
               resolve: Callable[[str], Any] | None = None) -> Any:
    """Rebuild values from plain data. ``make_tensor`` turns tensors into real ones (worker
    side); without it they become TensorData. ``resolve`` maps Ref names to objects."""
    if isinstance(x, list):
        raise CodecError("bare JSON lists are not produced by to_plain")
    if not isinstance(x, dict):
        return x

    def rec(v):
        return from_plain(v, make_tensor, resolve)

    def items(key):
        if not isinstance(x[key], list):
            raise CodecError(f"{key} does not hold a list")
        return x[key]

    if "__list__" in x:
        return [rec(v) for v in items("__list__")]
    if "__tuple__" in x:
        return tuple(rec(v) for v in items("__tuple__"))
    if "__dict__" in x:
        out = {}
        for pair in items("__dict__"):
            if not isinstance(pair, list) or len(pair) != 2:
                raise CodecError("dict item is not a pair")
            k, v = pair
            k = rec(k)
            if not isinstance(k, (str, int, float, bool, tuple, type(None))):
                raise CodecError("dict key is not plain")
            out[k] = rec(v)
        return out
    if "__float__" in x:
        if not isinstance(x["__float__"], str) or len(x["__float__"]) > 64:
            raise CodecError("float is not a short text")
        return float(x["__float__"])
    if "__bigint__" in x:
        if not isinstance(x["__bigint__"], str) or len(x["__bigint__"]) > 4300:
            raise CodecError("integer is not a short text")
        return int(x["__bigint__"])
    if "__npscalar__" in x:
        return _array_from(x["__npscalar__"])[0]
    if "__ndarray__" in x:
        return _array_from(x["__ndarray__"])
    if "__tensor__" in x:
        arr = _array_from(x["__tensor__"])
        dtype = x.get("dtype")
        if dtype is not None and not isinstance(dtype, str):
            raise CodecError("tensor dtype is not a name")
        if make_tensor is not None:
            return make_tensor(arr, x.get("requires_grad") is True, dtype)
        return TensorData(arr, x.get("requires_grad") is True, dtype and _short(dtype))
    if "__module__" in x:
        state = rec(x.get("state"))
        if not isinstance(state, dict):
            raise CodecError("module state is not a dict")
        return ModuleData(_short(x["__module__"]), state)
    if "__opaque__" in x:
        return Opaque(_short(x["__opaque__"]), _short(x.get("text", "")))
    if "__ref__" in x:
        if resolve is None:
            return Ref(_short(x["__ref__"]))
        return resolve(_short(x["__ref__"]))
    raise CodecError(f"unknown plain-data tag in {sorted(x)[:3]}")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=False, separators=(",", ":")).encode("utf-8")


# Messages between the grader and a worker, both ways: the length of the JSON, then the JSON.
FRAME = struct.Struct(">I")


def frame(msg: Any) -> bytes:
    """``msg`` as it travels on a pipe (``FRAME``); each end reads the length, then ``loads``."""
    raw = dumps(msg)
    return FRAME.pack(len(raw)) + raw


def loads(raw: bytes) -> Any:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise CodecError(f"message of {len(raw)} bytes exceeds the {MAX_MESSAGE_BYTES} byte limit")
    return json.loads(raw.decode("utf-8"))
