"""What a worker sends back, read as hostile input: the one place it is decoded and checked.

Student code runs in the worker and can write anything on the worker's end of the pipe (it is
in ``/proc/self/fd``): forged replies, nesting a million levels deep, NaN where a number of
seconds belongs, a class name of ten megabytes. Every message passes through ``read`` before
the grader looks at it:

  * its size is bounded, per reply and for the whole submission (``Budget``);
  * it is decoded without recursion or memory blow-up: brackets and items are counted on
    the raw bytes before JSON is parsed, NaN and Infinity literals are refused;
  * it must match the schema of what was asked (``parsed``, ``loaded`` or a call's
    ``result``): types, finite non-negative numbers, list lengths; strings are cut to fixed
    lengths, so nothing a submission sends can make a results.json, page or log grow;
  * a call's value is turned back into plain data (``codec.from_plain``) here, too.

Anything else raises ``BadReply`` with a reason in words; the grader then fails the check that
asked (or the load) with that reason and starts a fresh worker. Nothing here raises anything
but ``BadReply``.
"""
import json
import math
import re

from . import text
from .checking import CallError, CallReply
from .runtime import codec

MAX_REPLY_BYTES = 32 << 20  # one reply: a model's weights are a few MiB
MAX_SUBMISSION_BYTES = 256 << 20  # every reply of one submission, across restarts
MAX_CONTAINERS = 200_000  # "[" and "{" in one reply (arrays travel as base64 strings)
MAX_ITEMS = 2_000_000  # "," in one reply
MAX_NAMES = 2000
MAX_CELL_ERRORS = 50
MESSAGE_CHARS = 4000
TRACEBACK_CHARS = 4000
SHORT_CHARS = 200
SIGNATURE = re.compile(r"[0-9a-f]{0,64}")


class BadReply(ValueError):
    """A message from a worker that is not what was asked for (the text says why)."""


class Budget:
    """Bytes of replies one submission may still send, shared by all its workers."""

    def __init__(self, total: int = MAX_SUBMISSION_BYTES):
        self.left = total
        self.total = total

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise BadReply(f"the submission sent more than {self.total >> 20} MiB of replies in all")


def _reject_constant(name: str) -> float:
    raise BadReply(f"the reply holds {name}, which plain data never does")


def decode(raw: bytes) -> object:
    """JSON from a worker, bounded in size, nesting and number of items."""
    if len(raw) > MAX_REPLY_BYTES:
        raise BadReply(f"a reply of {len(raw) >> 20} MiB exceeds the {MAX_REPLY_BYTES >> 20} MiB limit")
    # Counted on the bytes, strings included (they only make the count larger): decoding then
    # makes at most this many Python objects.
    containers = raw.count(b"[") + raw.count(b"{")
    if containers > MAX_CONTAINERS or raw.count(b",") > MAX_ITEMS:
        raise BadReply(f"a reply holds more than {MAX_CONTAINERS} lists or {MAX_ITEMS} items")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except BadReply:
        raise
    except RecursionError:
        raise BadReply("a reply is nested too deeply") from None
    except (ValueError, UnicodeDecodeError, MemoryError) as e:
        raise BadReply(f"a reply is not valid JSON ({text.line(e, 120)})") from None


def _field(msg: dict, key: str, kind: type | tuple, what: str, optional: bool = False):
    if key not in msg:
        if optional:
            return None
        raise BadReply(f"{what} has no {key!r}")
    value = msg[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadReply(f"{what}'s {key!r} is a {type(value).__name__}")
    return value


def _strings(value: object, what: str, limit: int, chars: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise BadReply(f"{what} is not a list of strings")
    return [text.clean(s, chars) for s in value[:limit]]


def _message(raw: bytes, op: str) -> dict:
    msg = decode(raw)
    if not isinstance(msg, dict):
        raise BadReply(f"a reply is a {type(msg).__name__}, not a message")
    if msg.get("op") != op:
        got = msg.get("op")
        raise BadReply(f"expected a {op!r} reply, got {text.line(got, 40) if isinstance(got, str) else 'another'}")
    return msg


def parsed(raw: bytes) -> str:
    """The worker's first message after a load request, sent before any student code runs:
    the code signature (see ``runtime/signature.py``)."""
    msg = _message(raw, "parsed")
    signature = _field(msg, "signature", str, "the parse reply")
    if not SIGNATURE.fullmatch(signature):
        raise BadReply("the parse reply's signature is not a hex digest")
    return signature


def loaded(raw: bytes) -> dict:
    """{"fatal": why the submission could not be read at all ("" if it could), "cell_errors":
    what went wrong while loading, "names": the names it defined}."""
    msg = _message(raw, "loaded")
    fatal = _field(msg, "fatal", str, "the load reply", optional=True) or ""
    return {"fatal": text.clean(fatal, MESSAGE_CHARS),
            "cell_errors": _strings(msg.get("cell_errors", []), "the load reply's cell errors",
                                    MAX_CELL_ERRORS, MESSAGE_CHARS),
            "names": _strings(msg.get("names", []), "the load reply's names", MAX_NAMES, SHORT_CHARS)}


def result(raw: bytes, call_id: int, n_args: int | None = None) -> CallReply:
    """A call's outcome, its value decoded: ``CallReply``. ``n_args``: the number of positional
    arguments the reply must give back (the call asked for them), else None."""
    msg = _message(raw, "result")
    if _field(msg, "id", int, "the result") != call_id:
        raise BadReply("the result answers another call")
    ok = _field(msg, "ok", bool, "the result")
    cpu = _field(msg, "cpu", (int, float), "the result", optional=True) or 0.0
    if isinstance(cpu, bool) or not (math.isfinite(cpu) and 0 <= cpu < 1e7):
        raise BadReply("the result's CPU time is not a number of seconds")
    forbidden = tuple(_strings(msg.get("forbidden", []), "the result's forbidden uses", 20, SHORT_CHARS))
    if not ok:
        err = _field(msg, "error", dict, "the failed result")
        error = CallError(text.line(_field(err, "type", str, "the error"), SHORT_CHARS),
                          text.clean(_field(err, "message", str, "the error"), MESSAGE_CHARS),
                          text.clean(_field(err, "traceback", str, "the error", optional=True) or "",
                                     TRACEBACK_CHARS))
        return CallReply(False, None, error, forbidden, float(cpu))
    if "value" not in msg:
        raise BadReply("the result has no value")
    value = _plain(msg["value"], "the value")
    args = None
    if n_args is not None:
        given = _plain(msg.get("args"), "the arguments given back")
        if not isinstance(given, list) or len(given) != n_args:
            raise BadReply(f"the result does not give back its {n_args} arguments")
        args = tuple(given)
    return CallReply(True, value, None, forbidden, float(cpu), args)


def _plain(x: object, what: str) -> object:
    try:
        return codec.from_plain(x)
    except RecursionError:
        raise BadReply(f"{what} is nested too deeply") from None
    except Exception as e:  # noqa: BLE001 - the boundary: whatever the bytes were, the answer is BadReply
        raise BadReply(f"{what} cannot be read ({type(e).__name__}: {text.line(e, 200)})") from None
