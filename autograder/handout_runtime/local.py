"""``sub`` in the student's kernel (and at build time, on the reference): calls the notebook's
own functions, through the codec, as the grader's worker would."""
import hashlib
import json
from typing import Any

from .. import checking as framework
from ..runtime import codec, stand_ins


class LocalStudent:
    """``sub`` in the student's kernel: calls the notebook's functions (``env``: its names)."""

    def __init__(self, env: dict, files: dict | None = None):
        self.env = env
        self.names = set(env)
        self.files = files or {}

    def plot(self, *args: Any, **kwargs: Any) -> None:
        """Feedback plots are drawn by the grader only."""

    def fn(self, name: str) -> codec.Ref:
        return codec.Ref(name)

    def has(self, name: str) -> bool:
        return name in self.env

    def _resolve(self, name: str) -> Any:
        if name.startswith("stand_ins."):
            return stand_ins.REGISTRY[name]
        if name not in self.env:
            raise LookupError(f"the notebook does not define {name}")
        return self.env[name]

    def call_raw(self, target: str, *args: Any, seed: int = 0, forbid: Any = (), timeout: Any = None,
                 return_args: bool = False, **kwargs: Any) -> tuple:
        try:
            fn = self._resolve(target)
            a = codec.from_plain(codec.to_plain(list(args)), codec.make_tensor, self._resolve)
            k = codec.from_plain(codec.to_plain(kwargs), codec.make_tensor, self._resolve)
            framework.seed_everything(seed)
            value = fn(*a, **k)
            plain = codec.from_plain(codec.to_plain(value))
            left = tuple(codec.from_plain(codec.to_plain(list(a)))) if return_args else None
            return framework.CallReply(True, plain, args=left), plain
        except LookupError as e:
            return framework.CallReply(False, None, framework.CallError("Missing", str(e.args[0]))), None
        except Exception as e:  # noqa: BLE001 - reported as the check's failure
            text = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            return framework.CallReply(False, None, framework.CallError(type(e).__name__, text)), None

    def call(self, target: str, *args: Any, return_args: bool = False, **kwargs: Any) -> Any:
        reply, value = self.call_raw(target, *args, return_args=return_args, **kwargs)
        if not reply.ok:
            raise framework.StudentError(framework.Student.error_message(target, reply))
        return (value, reply.args) if return_args else value

    error_message = staticmethod(framework.Student.error_message)


def call_key(target: str, args: Any, kwargs: dict, seed: int) -> str:
    """The key of one call's recorded answer: the same at build time and in the notebook."""
    text = json.dumps([target, codec.to_plain(list(args)), codec.to_plain(kwargs), seed], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
