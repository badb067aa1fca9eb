"""The worker: loads one submission, then answers the grader's calls into it.

Protocol (length-prefixed JSON on two private pipes, see ``codec``; the grader reads every
reply as hostile input, ``replies.py``):
  grader -> {"op": "load", "path", "mode"}        worker -> {"op": "parsed", "signature"} (before any
                                                            student code runs), then
                                                            {"op": "loaded", "cell_errors", "names"}
  grader -> {"op": "call", "id", "target", ...}   worker -> {"op": "result", "id", "ok", ...}
Every call is seeded and restores the submission's globals and ``sys.modules`` afterwards, so
checks see the same submission whatever ran before them. A call that kills the process (or
hangs) costs its check; the grader starts a fresh worker for the checks after it.
Student stdout/stderr go to a capped file, never to the pipes.
"""
import __future__
import ast
import linecache
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Collection
from typing import Any

from . import absent, codec, loader, seeding, signature
from .seeding import seed_everything

MAX_TRACEBACK_CHARS = 2000
LOADING_FILE = "loading.txt"  # the number of the cell being loaded
OUTPUT_FILE = "output.txt"  # what student code prints (capped)
OUTPUT_LIMIT = 1 << 20  # characters of student output kept per stream


class Channel:
    def __init__(self, fd_in: int, fd_out: int):
        self.fd_in, self.fd_out = fd_in, fd_out

    def _read_exact(self, n):
        chunks = []
        while n:
            chunk = os.read(self.fd_in, min(n, 1 << 20))
            if not chunk:
                raise EOFError("grader closed the channel")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def recv(self) -> Any:
        (n,) = codec.FRAME.unpack(self._read_exact(codec.FRAME.size))
        return codec.loads(self._read_exact(n))

    def send(self, msg: dict[str, Any]) -> None:
        data = codec.frame(msg)
        while data:
            data = data[os.write(self.fd_out, data):]


def _describe(exc, label):
    """One line for the check's message plus the tail of the traceback, student frames only."""
    name = type(exc).__name__
    text = str(exc)
    if isinstance(exc, SystemExit):
        line = f"{label} called sys.exit({exc.code!r})"
    elif isinstance(exc, KeyboardInterrupt):
        line = f"{label} raised KeyboardInterrupt"
    else:
        line = f"{name}: {text}" if text else name
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")
              or f.filename == PY_FILE]
    tb = "".join(_where(f) for f in frames[-5:])[-MAX_TRACEBACK_CHARS:]
    return {"type": name, "message": line[:2000], "traceback": tb}


PY_FILE = "<submission>"  # what a .py submission is compiled as; a notebook cell is "<cell N>"


def _where(frame):
    """A traceback line as the student finds it: "cell 5, line 3" of the notebook (cells
    counted as Jupyter shows them, see ``loader.read_numbered_cells``), or "line 3" of a .py."""
    place = f"line {frame.lineno}" if frame.filename == PY_FILE else f"{frame.filename[1:-1]}, line {frame.lineno}"
    return f"  {place}, in {frame.name}\n" + (f"    {frame.line.strip()}\n" if frame.line else "")


def _remember_source(filename, src):
    """Let tracebacks quote the student's line (compiled code has no file to read it from)."""
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)


class Missing(LookupError):
    """A graded name the submission does not define (or not as a function)."""


class _Output(list):
    """What ``files = !ls`` gives: IPython's SList, empty (no shell runs when grading)."""
    s = n = ""
    l = p = property(lambda self: [])  # noqa: E741 - SList's own names


class Shell:
    """``get_ipython()`` for student code: what IPython's input transformers turn magics and
    shell escapes into (``loader.python_source``). When grading, no shell runs and magics do
    nothing: ``!pip install x`` installs nothing, ``%matplotlib inline`` changes nothing."""

    def system(self, cmd):
        return None

    def getoutput(self, cmd, split=True, depth=0):
        return _Output()

    def run_line_magic(self, magic_name, line, _stack_depth=1):
        return None

    def run_cell_magic(self, magic_name, line, cell):
        return None

    def magic(self, line):
        return None


SHELL = Shell()


def _future_flags(stmt):
    """The compiler flags a ``from __future__ import ...`` statement turns on."""
    flags = 0
    if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
        for alias in stmt.names:
            feature = getattr(__future__, alias.name, None)
            flags |= getattr(feature, "compiler_flag", 0)
    return flags


class LoadedNamespace:
    """What the worker loaded of the submission: the namespace its cells ran in, and the calls
    into it (``call``). Not ``submission.Submission``, what was handed in (the grader's side)."""

    def __init__(self):
        self.ns = {"__name__": "__submission__", "__builtins__": __builtins__, "get_ipython": lambda: SHELL}
        self.stand_ins = None

    def load(self, path: str, mode: str, skip: Collection[int] = (), announce: Callable[[str], None] | None = None,
             keep: Collection[str] = (), sign: bool = True) -> dict[str, Any]:
        """Run the submission's cells (all, or definitions only), except those in ``skip``.
        Each top-level statement runs on its own, as a cell would in Jupyter if it held only
        that statement: one that fails (an import of a package the grader lacks, a Drive mount)
        costs what depends on it, not the rest of its cell. ``from __future__`` imports hold for
        the cells after them, as in a Jupyter session. ``announce(signature)`` is called once the
        code is read, before any of it runs (with "" when not ``sign``: a submission's
        second worker, whose signature nobody reads). The cell being run is written to LOADING_FILE
        first, so that when one kills or hangs the process the grader knows which, and can load
        again without it."""
        cell_errors = []
        try:
            numbered = loader.read_numbered_cells(path)
            program = loader.load_program(path, mode, keep, numbered)
            sources = dict(numbered)
        except loader.SubmissionError as e:
            if announce:
                announce("")
            return {"op": "loaded", "fatal": str(e)[:2000], "cell_errors": [], "names": []}
        if announce:
            announce(signature.of_sources(list(sources.values())) if sign else "")
        notebook = str(path).endswith(".ipynb")
        flags = 0
        progress = os.open(LOADING_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        for number, tree, err in program:
            if number in skip:
                continue
            os.pwrite(progress, f"{number:8d}".encode(), 0)
            if err:
                cell_errors.append(f"cell {number} does not parse: {err}")
                continue
            filename = f"<cell {number}>" if notebook else PY_FILE
            _remember_source(filename, loader.python_source(sources.get(number, "")))
            for stmt in tree.body:
                flags |= _future_flags(stmt)
                try:
                    code = compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec",
                                   flags=flags, dont_inherit=True)
                    exec(code, self.ns)
                except BaseException as exc:  # noqa: BLE001 - one statement's failure must not stop the rest
                    where = f"cell {number}, line {stmt.lineno}" if notebook else f"line {stmt.lineno}"
                    cell_errors.append(f"{where} was skipped: {_describe(exc, where)['message']}")
        os.close(progress)
        names = sorted(k for k in self.ns if not k.startswith("__") and k != "get_ipython")
        return {"op": "loaded", "cell_errors": cell_errors[:50], "names": names[:2000]}

    def resolve(self, name: str) -> Any:
        if name.startswith("stand_ins."):
            if self.stand_ins is None:
                from . import stand_ins
                self.stand_ins = stand_ins.REGISTRY
            return self.stand_ins[name]
        if name not in self.ns:
            raise Missing(f"the submission does not define {name}")
        return self.ns[name]

    def call(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Run one call; every outcome becomes a plain-data message."""
        label = msg["target"]
        try:
            fn = self.resolve(msg["target"])
            args = codec.from_plain(msg["args"], codec.make_tensor, self.resolve)
            kwargs = codec.from_plain(msg["kwargs"], codec.make_tensor, self.resolve)
        except Missing as exc:
            return {"ok": False, "error": {"type": "Missing", "traceback": "", "message": str(exc)}}
        except Exception as exc:  # noqa: BLE001
            return {"ok": False, "error": _describe(exc, label)}
        if not callable(fn):
            kind = type(fn).__name__
            article = "an" if kind[:1].lower() in "aeiou" else "a"
            return {"ok": False, "error": {"type": "Missing", "traceback": "",
                                           "message": f"{label} is {article} {kind}, not a function"}}
        seed_everything(msg.get("seed", 0))
        absent.USES.clear()
        saved = dict(sys.modules), dict(self.ns)
        start = time.process_time()
        try:
            value = fn(*args, **kwargs)
            if hasattr(value, "__next__") and not isinstance(value, (list, tuple, dict)):
                raise TypeError(f"{label} returned a {type(value).__name__}; expected concrete values")
        except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt only end this call
            return {"ok": False, "error": _describe(exc, label), "forbidden": absent.USES[:20],
                    "cpu": time.process_time() - start}
        finally:
            sys.modules.clear()
            sys.modules.update(saved[0])
            self.ns.clear()
            self.ns.update(saved[1])
        try:
            reply = {"ok": True, "value": codec.to_plain(value), "forbidden": absent.USES[:20],
                     "cpu": time.process_time() - start}
            if msg.get("return_args"):  # the arguments as the function left them: changed in place?
                reply["args"] = codec.to_plain(list(args))
            return reply
        except Exception as exc:  # noqa: BLE001
            return {"ok": False, "error": {"type": "TypeError", "traceback": "",
                                           "message": f"{label} returned a value that cannot be graded: {exc}"}}


def warm_up(torch: Any) -> None:
    """Pay torch's lazy imports (autograd, optimizers, losses) once, before any fork, instead
    of once per check: the first optimizer step alone costs about two seconds."""
    net = torch.nn.Linear(2, 1)
    for opt in (torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.5), torch.optim.Adam(net.parameters())):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(torch.cat([net(torch.ones(3, 2))] * 2, 1), torch.zeros(3).long()).backward()
        torch.nn.MSELoss()(net(torch.ones(3, 2)), torch.zeros(3, 1)).backward()
        opt.step()


def prepare_process(without: tuple[str, ...] = ()) -> None:
    """Imports every check needs, done once before any fork; plotting without a display.
    ``without``: modules this template's workers do without (never imported here)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    absent.install(without, stand_in=False)
    import numpy  # noqa: F401
    import numpy.random  # noqa: F401 - every call seeds it; imported lazily it costs each worker ~17 ms
    try:
        import torch
        torch.set_num_threads(1)
        warm_up(torch)
    except ImportError:
        pass
    seeding.find_torch()  # torch as imported here (or its absence), before student code could replace it
    from . import stand_ins  # noqa: F401 - here, while forbidden modules are simply missing
    try:  # the uid mode's network filter, loaded before the worker may no longer read it
        import pyseccomp  # noqa: F401
    except (ImportError, OSError):
        pass
    loader.python_source("")  # IPython's input transformers, imported once
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.show = lambda *a, **k: None
    except ImportError:
        pass


class CappedOutput:
    """sys.stdout/sys.stderr for student code: keeps the first ``limit`` characters (for crash
    messages) and drops the rest, so printing gigabytes costs neither disk nor the process."""
    encoding, errors = "utf-8", "replace"

    def __init__(self, fd, limit=OUTPUT_LIMIT):
        self.fd, self.limit, self.kept = fd, limit, 0

    def write(self, text):
        text = str(text)
        room = self.limit - self.kept
        if room > 0:
            part = text[:room]
            self.kept += len(part)
            try:
                os.write(self.fd, part.encode("utf-8", "replace"))
            except OSError:
                pass
            if len(text) > room:
                os.write(self.fd, b"\n[further output dropped]\n")
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def fileno(self):
        return self.fd

    def writable(self):
        return True


def serve(fd_in: int, fd_out: int) -> None:
    """Serve the grader on the given pipe ends until told to quit (in the forked worker)."""
    # Student output goes to a file; the protocol pipes are only reachable through our Channel.
    out = os.open(OUTPUT_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    # Past the file-size limit, writes to fds 1/2 fail with EFBIG instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    sys.stdout = CappedOutput(1)
    sys.stderr = CappedOutput(2)
    chan = Channel(fd_in, fd_out)
    sys.path.insert(0, os.getcwd())  # the handout's support modules sit beside the notebook
    loaded = LoadedNamespace()
    while True:
        try:
            msg = chan.recv()
        except EOFError:
            os._exit(0)
        op = msg.get("op")
        if op == "load":
            announce = lambda sig: chan.send({"op": "parsed", "signature": sig})  # noqa: E731
            chan.send(loaded.load(msg["path"], msg.get("mode", "all"), set(msg.get("skip", ())), announce,
                                  msg.get("keep", ()), msg.get("sign", True)))
        elif op == "call":
            reply = loaded.call(msg)
            reply.update(op="result", id=msg.get("id"))
            chan.send(reply)
        elif op == "quit":
            os._exit(0)
