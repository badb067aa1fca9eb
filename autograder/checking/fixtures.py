"""What a check is handed: ``sub`` (``Student``, the submission in its sandbox) and ``ref``
(``Reference``, the reference solution in the grader), the protocols they share (``Caller``,
``SubmissionCaller``), and what one call into the submission gives back (``CallReply``)."""
import collections
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..runtime import codec
from ..runtime.codec import Ref
from ..runtime.seeding import seed_everything
from .comparisons import real_numbers


class Caller(Protocol):
    """What a check calls on both sides: ``ref`` (the reference, in the grader) and ``sub``."""

    def fn(self, name: str) -> Ref:
        """A function of that side by name, to pass as an argument (``sub.fn("model")``)."""
        ...

    def call(self, target: str, *args: Any, seed: int = 0, forbid: Sequence[str] = (),
             timeout: float | None = None, return_args: bool = False, **kwargs: Any) -> Any:
        """``target(*args, **kwargs)`` with ``random``, NumPy and torch seeded with ``seed``.

        Parameters:
            target: a graded function's name ("fit_GD", "Net.forward") or a grader stand-in
                ("stand_ins.linear_model").
            args, kwargs: plain data, arrays, tensors and ``fn`` references.
            forbid: modules the call must do without (only ``["torch"]``).
            timeout: CPU seconds the call may take (default: the grader's limit).
            return_args: also give back the positional arguments as the call left them.
        Returns:
            the value as plain types (``np.ndarray``, ``TensorData``, ``ModuleData``, ...),
            or (value, arguments) with ``return_args``. On ``sub``, a failed call raises
            ``StudentError`` (an AssertionError) with the student's own message.
        """
        ...


class SubmissionCaller(Caller, Protocol):
    """``sub``: the submission's side, which can also be asked what it defines and handed in."""

    names: set[str]
    files: dict[str, Path]

    def has(self, name: str) -> bool:
        """Whether the submission defines ``name``."""
        ...

    def call_raw(self, target: str, *args: Any, seed: int = 0, forbid: Sequence[str] = (),
                 timeout: float | None = None, return_args: bool = False, **kwargs: Any) -> tuple["CallReply", Any]:
        """Like ``call``, but never raises for the student's error: (the ``CallReply``, its value)."""
        ...

    def plot(self, title: str, series: Mapping[str, Any], kind: str = "line", xlabel: str = "",
             ylabel: str = "", logy: bool = False) -> None:
        """Attach a plot to the check's feedback (see ``Student.plot``)."""
        ...

    @staticmethod
    def error_message(target: str, reply: "CallReply") -> str:
        """What a failed call (from ``call_raw``) tells the student: the exception, their frames."""
        ...


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
    args: tuple[Any, ...] | None = None  # with return_args: the positional arguments as the call left them


class Student:
    """The ``sub`` fixture: calls into the submission's sandboxed copy for one check."""

    def __init__(self, session: Any, names: Sequence[str] = (), files: dict[str, Path] | None = None):
        self.session = session  # sandbox.Session: the submission's loaded workers
        self.names = set(names)
        self.files = files or {}  # files handed in beside the notebook: name -> grader-side path
        self.figures: list[dict[str, Any]] = []  # plots for the feedback page (see ``plot``)

    def plot(self, title: str, series: Mapping[str, Any], kind: str = "line", xlabel: str = "", ylabel: str = "",
             logy: bool = False) -> None:
        """Attach a plot to this check's feedback (record it before asserting, so a failing
        check shows it): ``series`` maps a label to numbers (a curve per label) or, with
        ``kind="bar"``, a label to one number. Shown only where the check's visibility allows."""
        def numbers(v: Any) -> list[float]:
            try:
                arr = real_numbers(v, title)
            except AssertionError:
                return []
            return [float(x) for x in arr.reshape(-1)[:10_000]]
        self.figures.append({"title": title, "kind": kind, "xlabel": xlabel, "ylabel": ylabel, "logy": logy,
                             "series": {str(k): numbers(v) for k, v in series.items()}})

    def fn(self, name: str) -> Ref:
        return Ref(name)

    def has(self, name: str) -> bool:
        return name in self.names

    def call_raw(self, target: str, *args: Any, seed: int = 0, forbid: Sequence[str] = (),
                 timeout: float | None = None, return_args: bool = False, **kwargs: Any) -> tuple[CallReply, Any]:
        """The call's ``CallReply`` and its value (None when it raised). With ``forbid`` (only
        ``["torch"]``), the call runs in a worker where torch does not exist at all; with
        ``return_args``, the reply's ``args`` are the arguments as the function left them."""
        reply = self.session.call(target, *args, seed=seed, forbid=forbid, timeout=timeout,
                                  return_args=return_args, **kwargs)
        return reply, reply.value

    def call(self, target: str, *args: Any, seed: int = 0, forbid: Sequence[str] = (),
             timeout: float | None = None, return_args: bool = False, **kwargs: Any) -> Any:
        """The call's value; with ``return_args``, (value, the positional arguments as the
        function left them), so a check can see what it changed in place."""
        reply, value = self.call_raw(target, *args, seed=seed, forbid=forbid, timeout=timeout,
                                     return_args=return_args, **kwargs)
        if not reply.ok:
            raise StudentError(self.error_message(target, reply))
        if reply.forbidden:  # it touched a forbidden module and caught the error
            who = "your code" if target.startswith("stand_ins.") else target
            raise StudentError(f"{who} used {reply.forbidden[0]} where only NumPy is allowed")
        return (value, reply.args) if return_args else value

    @staticmethod
    def error_message(target: str, reply: CallReply) -> str:
        """What a failed call tells the student: the exception and their own frames."""
        err = reply.error or CallError("Error", "failed")
        if err.type == "Missing" or err.message.startswith(target) or target.startswith("stand_ins."):
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

    def __init__(self, namespace: dict[str, Any] | None = None, *,
                 load: Callable[[], dict[str, Any]] | None = None, answers: Mapping[str, Any] | None = None):
        if namespace is None and load is None:
            raise TypeError("Reference needs the reference's namespace or a function loading it")
        self._ns, self._load = namespace, load
        self.recorded: dict[str, Any] = dict(answers or {})  # never evicted: they cost nothing to keep
        self.cache: collections.OrderedDict[str, Any] = collections.OrderedDict()  # computed in this process
        self.computed = 0  # answers this process had to compute (the rest were recorded)
        self.lock = threading.RLock()  # seeding is global: one reference call at a time

    @property
    def ns(self) -> dict[str, Any]:
        with self.lock:
            if self._ns is None:
                assert self._load is not None  # __init__ requires one of the two
                self._ns = self._load()
            return self._ns

    @property
    def loaded(self) -> bool:
        """Whether the reference was loaded in this process (not when every answer was recorded)."""
        return self._ns is not None

    def answers(self) -> dict[str, Any]:
        """Every answer known here, recorded and computed: what ``reference_answers.save`` keeps."""
        with self.lock:
            return {**self.recorded, **self.cache}

    def fn(self, name: str) -> Ref:
        return Ref(name)

    def _resolve(self, name: str) -> Any:
        if name.startswith("stand_ins."):
            from ..runtime import stand_ins
            return stand_ins.REGISTRY[name]
        return self.ns[name]

    def call(self, target: str, *args: Any, seed: int = 0, forbid: Sequence[str] = (),
             timeout: float | None = None, return_args: bool = False, **kwargs: Any) -> Any:
        plain_args, plain_kwargs = codec.to_plain(list(args)), codec.to_plain(kwargs)
        key = call_key(target, plain_args, plain_kwargs, seed)
        value = codec.from_plain(self.call_plain(target, plain_args, plain_kwargs, seed, key))
        # The reference is trusted not to change its arguments: they come back as given.
        return (value, codec.from_plain(plain_args)) if return_args else value

    def call_plain(self, target: str, plain_args: Any, plain_kwargs: Any, seed: int = 0,
                   key: str | None = None) -> Any:
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

    def _compute(self, target: str, plain_args: Any, plain_kwargs: Any, seed: int) -> Any:
        args = codec.from_plain(plain_args, codec.make_tensor, self._resolve)
        kwargs = codec.from_plain(plain_kwargs, codec.make_tensor, self._resolve)
        seed_everything(seed)
        return codec.to_plain(self._resolve(target)(*args, **kwargs))


def call_key(target: str, plain_args: Any, plain_kwargs: Any, seed: int) -> str:
    """What identifies one call to the reference: its target, plain arguments and seed."""
    return json.dumps([target, plain_args, plain_kwargs, seed], sort_keys=True)
