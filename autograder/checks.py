"""How checks are declared and what they use to compare answers.

A check is a pytest-style function ``test_x(sub, ref)`` registered with ``@checks.add(...)``
stating its task, graded function, points and visibility. ``sub`` calls the submission in
its sandbox, ``ref`` the reference solution in the grader; both take the same arguments and
return the same plain types (see ``runtime/codec.py``). A check passes by returning and fails
by raising ``AssertionError`` with a message for the student.
"""
import collections
import json
import math
import threading
import zlib
from dataclasses import dataclass, field

import numpy as np

from .runtime import codec
from .runtime.codec import ModuleData, Opaque, Ref, TensorData  # noqa: F401  (re-exported for checks)
from .runtime.seeding import seed_everything

VISIBILITIES = ("visible", "hidden")


@dataclass
class Check:
    name: str
    task: str
    function: str
    points: float
    hidden: bool
    fn: object = field(repr=False)
    doc: str = ""

    @property
    def seed(self):
        """Stable per-check seed: the same submission always sees the same random inputs."""
        return zlib.crc32(self.name.encode()) % 2**31


class Registry:
    """The ordered checks of one assignment."""

    def __init__(self, assignment):
        self.assignment = assignment
        self.checks = []

    def add(self, task, function, points, hidden=False):
        def register(fn):
            doc = (fn.__doc__ or "").strip().split("\n")[0]
            self.checks.append(Check(fn.__name__, task, function, points, hidden, fn, doc))
            return fn
        return register

    def __iter__(self):
        return iter(self.checks)

    def __len__(self):
        return len(self.checks)

    @property
    def total(self):
        return sum(c.points for c in self.checks)


# -- calling code ----------------------------------------------------------------------------

class StudentError(AssertionError):
    """The code under test raised: the check fails with the submission's own message."""


@dataclass(frozen=True)
class CallError:
    """What the submission raised in a call: the exception's type, its message (one line) and
    the submission's own frames of the traceback."""
    type: str
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class CallReply:
    """One call into the submission, as the grader read it back (``replies.result``): whether
    it returned, its value (plain data, see ``runtime/codec.py``) or its error, the forbidden
    modules it reached for (``forbid``) and the CPU seconds it used."""
    ok: bool
    value: object = None
    error: CallError | None = None
    forbidden: tuple[str, ...] = ()
    cpu: float = 0.0
    args: tuple | None = None  # with return_args: the positional arguments as the call left them


class Student:
    """The ``sub`` fixture: calls into the submission's sandboxed copy for one check."""

    def __init__(self, session, names=(), files=None):
        self.session = session
        self.names = set(names)
        self.files = files or {}  # files handed in beside the notebook: name -> grader-side path
        self.figures = []  # plots for the feedback page (see ``plot``)

    def plot(self, title, series, kind="line", xlabel="", ylabel="", logy=False):
        """Attach a plot to this check's feedback (record it before asserting, so a failing
        check shows it): ``series`` maps a label to numbers (a curve per label) or, with
        ``kind="bar"``, a label to one number. Shown only where the check's visibility allows."""
        def numbers(v):
            try:
                arr = real_numbers(v, title)
            except AssertionError:
                return []
            return [float(x) for x in arr.reshape(-1)[:10_000]]
        self.figures.append({"title": title, "kind": kind, "xlabel": xlabel, "ylabel": ylabel, "logy": logy,
                             "series": {str(k): numbers(v) for k, v in series.items()}})

    def fn(self, name):
        return Ref(name)

    def has(self, name):
        return name in self.names

    def call_raw(self, target, *args, seed=0, forbid=(), timeout=None, return_args=False,
                 **kwargs) -> tuple[CallReply, object]:
        """The call's ``CallReply`` and its value (None when it raised). With ``forbid`` (only
        ``["torch"]``), the call runs in a worker where torch does not exist at all; with
        ``return_args``, the reply's ``args`` are the arguments as the function left them."""
        reply = self.session.call(target, *args, seed=seed, forbid=forbid, timeout=timeout,
                                  return_args=return_args, **kwargs)
        return reply, reply.value

    def call(self, target, *args, seed=0, forbid=(), timeout=None, return_args=False, **kwargs):
        """The call's value; with ``return_args``, (value, the positional arguments as the
        function left them), so a check can see what it changed in place."""
        reply, value = self.call_raw(target, *args, seed=seed, forbid=forbid, timeout=timeout,
                                     return_args=return_args, **kwargs)
        if not reply.ok:
            raise StudentError(self.error_message(target, reply))
        if reply.forbidden:  # it touched a forbidden module and caught the error
            who = "your code" if target.startswith("probes.") else target
            raise StudentError(f"{who} used {reply.forbidden[0]} where only NumPy is allowed")
        return (value, reply.args) if return_args else value

    @staticmethod
    def error_message(target: str, reply: CallReply) -> str:
        """What a failed call tells the student: the exception and their own frames."""
        err = reply.error or CallError("Error", "failed")
        if err.type == "Missing" or err.message.startswith(target) or target.startswith("probes."):
            msg = err.message  # a probe's own name means nothing to students: their frames follow
        else:
            msg = f"{target} raised {err.message}"
        if err.traceback:
            msg += "\n" + err.traceback.rstrip()
        return msg


class Reference:
    """The ``ref`` fixture: the same calls, answered by the reference solution in-process.

    Arguments and results go through the same codec as the submission's, so both sides
    return identical types; results are cached because every submission asks the same.
    ``answers``: answers recorded earlier for this grader ({call key: plain value}, see
    ``reference_answers``), used as they are. The reference itself (``load()``, returning its
    namespace) is loaded only when a call is not among them: a cold grader whose answers are
    all recorded never runs the reference, its imports or its training runs.
    """

    CACHE_SIZE = 512  # answers kept; bounds memory when checks ask with per-submission inputs

    def __init__(self, namespace=None, *, load=None, answers=None):
        if namespace is None and load is None:
            raise TypeError("Reference needs the reference's namespace or a function loading it")
        self._ns, self._load = namespace, load
        self.recorded = dict(answers or {})  # never evicted: they cost nothing to keep
        self.cache = collections.OrderedDict()  # computed in this process
        self.computed = 0  # answers this process had to compute (the rest were recorded)
        self.lock = threading.RLock()  # seeding is global: one reference call at a time

    @property
    def ns(self):
        with self.lock:
            if self._ns is None:
                self._ns = self._load()
            return self._ns

    @property
    def loaded(self) -> bool:
        """Whether the reference was loaded in this process (not when every answer was recorded)."""
        return self._ns is not None

    def answers(self) -> dict:
        """Every answer known here, recorded and computed: what ``reference_answers.save`` keeps."""
        with self.lock:
            return {**self.recorded, **self.cache}

    def fn(self, name):
        return Ref(name)

    def _resolve(self, name):
        if name.startswith("probes."):
            from .runtime import probes
            return probes.REGISTRY[name]
        return self.ns[name]

    def call(self, target, *args, seed=0, forbid=(), timeout=None, return_args=False, **kwargs):
        plain_args, plain_kwargs = codec.to_plain(list(args)), codec.to_plain(kwargs)
        key = call_key(target, plain_args, plain_kwargs, seed)
        value = codec.from_plain(self.call_plain(target, plain_args, plain_kwargs, seed, key))
        # The reference is trusted not to change its arguments: they come back as given.
        return (value, codec.from_plain(plain_args)) if return_args else value

    def call_plain(self, target, plain_args, plain_kwargs, seed=0, key=None):
        """The reference's answer as plain data (cached), for arguments already plain."""
        key = key or call_key(target, plain_args, plain_kwargs, seed)
        with self.lock:
            if key in self.recorded:
                return self.recorded[key]
            if key in self.cache:
                self.cache.move_to_end(key)
            else:
                self.cache[key] = self._compute(target, plain_args, plain_kwargs, seed)
                self.computed += 1
                if len(self.cache) > self.CACHE_SIZE:
                    self.cache.popitem(last=False)
            return self.cache[key]

    def _compute(self, target, plain_args, plain_kwargs, seed):
        args = codec.from_plain(plain_args, codec.make_tensor, self._resolve)
        kwargs = codec.from_plain(plain_kwargs, codec.make_tensor, self._resolve)
        seed_everything(seed)
        return codec.to_plain(self._resolve(target)(*args, **kwargs))


def call_key(target: str, plain_args, plain_kwargs, seed: int) -> str:
    """What identifies one call to the reference: its target, plain arguments and seed."""
    return json.dumps([target, plain_args, plain_kwargs, seed], sort_keys=True)


# -- comparing answers -------------------------------------------------------------------------

def describe(value):
    """A short, student-readable description of a returned value's type."""
    if isinstance(value, np.ndarray):
        return f"np.ndarray of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, TensorData):
        return f"torch.Tensor of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, Opaque):
        return value.type_name
    if isinstance(value, ModuleData):
        return value.cls
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of length {len(value)}"
    return type(value).__name__


REAL_KINDS = "biuf"  # NumPy dtype kinds a comparison accepts: bool, signed and unsigned int, float


def as_array(value, what):
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
    return arr


def real_numbers(value, what) -> np.ndarray:
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


def expect_type(value, kind, what, shape=None):
    """kind: 'ndarray', 'tensor', 'float', 'tuple'. shape, when given, must match exactly."""
    ok = {"ndarray": isinstance(value, np.ndarray), "tensor": isinstance(value, TensorData),
          "float": isinstance(value, (float, np.floating, int, np.integer)) and not isinstance(value, (bool, np.bool_)),
          "tuple": isinstance(value, (tuple, list))}[kind]
    names = {"ndarray": "np.ndarray", "tensor": "torch.Tensor", "float": "a float", "tuple": "a tuple"}
    if not ok:
        raise AssertionError(f"{what}: expected {names[kind]}, got {describe(value)}")
    if shape is not None and tuple(np.shape(value.array if kind == "tensor" else value)) != tuple(shape):
        got = value.shape if kind in ("tensor", "ndarray") else len(value)
        raise AssertionError(f"{what}: expected shape {tuple(shape)}, got {got}")


def assert_close(actual, expected, what, rtol=1e-5, atol=1e-8, show_expected=True):
    """torch.testing.assert_close-style comparison with a message naming what differs."""
    a = np.asarray(as_array(actual, what), dtype=np.float64)
    e = np.asarray(as_array(expected, what), dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"{what}: shape mismatch: expected {e.shape}, got {a.shape}")
    if not np.all(np.isfinite(a)) and np.all(np.isfinite(e)):
        bad = np.flatnonzero(~np.isfinite(a))
        raise AssertionError(f"{what}: {bad.size} non-finite value(s), first at index "
                             f"{tuple(int(i) for i in np.unravel_index(bad[0], a.shape))}: {a.flat[bad[0]]}")
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


def relative_error(a, b):
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


def isclose(a, b, rtol=1e-5, atol=1e-8):
    """Two real numbers within tolerance; False for NaN, inf, complex or non-numbers."""
    if any(np.asarray(x).dtype.kind not in REAL_KINDS or np.asarray(x).size != 1 for x in (a, b)):
        return False
    return math.isclose(float(np.asarray(a).reshape(())), float(np.asarray(b).reshape(())), rel_tol=rtol,
                        abs_tol=atol)
