"""The grader's side of a worker template (``runtime/forkserver.py``): the process that imports
torch, NumPy and matplotlib once and forks each worker, started from a private copy of the
runtime package in the batch's scratch folder (``make_root``), with a scrubbed environment."""
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from . import cache_folders

RUNTIME_SRC = Path(__file__).parent / "runtime"
PASSED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # correctness settings on some CPUs


def _base_env(**extra):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
    env.update(extra)
    return env


class Template:
    """A process that imports what workers need once and forks one worker per request
    (``runtime/forkserver.py``). ``without``: modules it must never import (the workers of
    calls made with ``forbid``)."""

    def __init__(self, root: Path, without: tuple = ()):
        self.root, self.without = root, tuple(without)
        self.process: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.ready: dict | None = None  # its first message: where its Python lives
        self.lock = threading.Lock()  # one request at a time on its socket
        self.parent: int | None = None  # a template this process was forked from (``adopt``): its PID

    @classmethod
    def adopt(cls, root: Path, sock: socket.socket, parent: int) -> "Template":
        """The template this grader was forked from (``forked_grader``): it already imported
        what workers need, and so did this process, once for both. ``sock``: its connection
        to us; its first message is the usual "ready"."""
        template = cls(root)
        template.sock, template.parent = sock, parent
        sock.settimeout(120)
        return template

    def start(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # matplotlib's font cache lives across batches: building it takes seconds. Where the cache
        # folder is not ours alone (its matplotlibrc would set how pages are drawn), or cannot be
        # made: this batch's own (fonts are looked up again).
        mpl = cache_folders.private_folder("matplotlib")
        if mpl is None:
            mpl = self.root / "matplotlib"
            mpl.mkdir(exist_ok=True)
        boot = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from agr_runtime.forkserver import main; main(sys.argv[2:])")
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", boot, str(self.root / "rt"), str(theirs.fileno()), *self.without],
            cwd=self.root, env=_base_env(MPLCONFIGDIR=str(mpl), HOME=str(self.root)), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), start_new_session=True)
        theirs.close()
        self.sock = ours
        self.sock.settimeout(120)
        self.ready = None  # confirmed by the first spawn: the template imports while we work

    def wait_ready(self):
        if self.ready is None:
            msg = json.loads(self.sock.recv(1 << 16) or b"{}")
            if msg.get("op") != "ready":
                raise RuntimeError("the worker template did not start (see stderr)")
            self.ready = msg

    def stop(self):
        if self.parent is not None:  # our parent: killed as a started template is (its keepers end by
            with contextlib.suppress(OSError):  # their lifelines; our Environment removes the rest)
                os.kill(self.parent, signal.SIGKILL)
            with contextlib.suppress(OSError):
                self.sock.close()
            self.parent = None
        if self.process is not None:
            # Kill before closing our end: on a closed socket the template cleans up after a
            # dead grader, which would take the live batch's workers and folders with it.
            self.process.kill()
            self.process.wait()
            self.process = None
            with contextlib.suppress(OSError):
                self.sock.close()


# The template this process was forked from (``forked_grader``), until an Environment takes it.
ADOPTED: list[Template] = []


def make_root() -> Path:
    """A batch's scratch folder, private to the grader: the runtime copy the templates run
    (``rt/agr_runtime``), ``newroot`` where each worker builds its root file system, and each
    worker's own folder."""
    root = Path(tempfile.mkdtemp(prefix="autograder-"))
    rt = root / "rt" / "agr_runtime"
    rt.mkdir(parents=True)
    for src in RUNTIME_SRC.glob("*.py"):
        shutil.copy(src, rt / src.name)
    for p in (root / "rt", rt, *rt.iterdir()):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    (root / "newroot").mkdir(mode=0o755)  # where each worker builds its root (own mount ns)
    return root
