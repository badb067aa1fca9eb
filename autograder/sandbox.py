"""Run untrusted submission code in a separate, limited worker process.

The grader talks to the worker over two private pipes (see ``runtime/worker.py``); only plain
data crosses (``runtime/codec.py``). Workers are forked from a template process that has
already imported torch (``runtime/forkserver.py``) and confine themselves before loading any
student code (``runtime/jail.py``). Each worker:
  * runs in a fresh directory holding only a copy of the submission, with a scrubbed
    environment and ``python -I`` (the grader's package is not importable from there);
  * has limits on address space, file size and core dumps, and a time limit per call enforced
    from the grader side, in CPU time where measurable (see ``Worker.recv``); a stuck worker is
    killed with everything it started;
  * when the grader runs as root: gets its own mount, network and PID namespaces (no network;
    the checks, the references, the tests, .git and the output folder are covered by empty
    mounts), its own control groups where the kernel allows (``cgroups.py``: one CPU share, one
    process cap and one memory cap for everything it starts) and then drops to an
    unprivileged user of its own.
"""
import contextlib
import ctypes.util
import itertools
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import cgroups
from .runtime import codec
from .runtime.worker import LOADING_FILE

HEADER = struct.Struct(">I")
RUNTIME_SRC = Path(__file__).parent / "runtime"
# Each worker runs as its own unprivileged user, taken in turn from this range (no passwd entry
# needed): concurrent submissions cannot signal, trace or read each other, and one's fork bomb
# cannot use up another's process limit. Reused only after UID_COUNT workers.
UID_BASE, UID_COUNT = 200_000, 10_000
PASSED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # correctness settings on some CPUs
# Where a worker's CPU time is measured, time limits count it, and a call may also wait (sleep,
# I/O) up to this many times its limit on the wall clock before it is stopped.
WALL_FACTOR = 2
CPUS = os.cpu_count() or 1
FAST_REPLY = 0.05  # seconds of a call before its CPU time is read (most replies come sooner)


@dataclass
class Limits:
    """Resource limits for one submission's worker. Seconds are CPU seconds of the worker's
    processes where the grader can measure them, else wall-clock (see ``Worker.recv``)."""
    call_timeout: float = 30.0
    load_timeout: float = 60.0
    memory_bytes: int = 6 << 30
    file_bytes: int = 64 << 20
    max_processes: int = 512


@dataclass
class _Timer:
    """One wait for a reply (see ``Worker.recv``)."""
    limit: float  # seconds: CPU where measured, else wall
    start: float  # monotonic
    wall_end: float
    note: str = ""
    cpu_start: float = None  # the worker's CPU clock FAST_REPLY seconds into the call


class SandboxError(Exception):
    """The worker did something that ends the current check (timeout, crash, bad reply)."""

    def __init__(self, message, kind="crashed"):
        super().__init__(message)
        self.kind = kind  # "timeout" or "crashed"


def can_isolate():
    """Namespaces and privilege dropping need root (Gradescope runs autograders as root)."""
    return os.geteuid() == 0 and ctypes.util.find_library("c") is not None


def blocked_ancestors(path):
    """(ancestor, next component) for ancestors of ``path`` that other users cannot traverse,
    e.g. /root holding a pyenv interpreter."""
    out = []
    p = Path(path).resolve()
    for parent in reversed(p.parents):
        with contextlib.suppress(OSError):
            if not parent.stat().st_mode & 0o001:
                out.append((str(parent), p.relative_to(parent).parts[0]))
    return out


def _base_env(**extra):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
    env.update(extra)
    return env


def remove_files_of(uid, folder):
    """Delete what user ``uid`` (a worker's own) left at the top of a shared folder like /tmp."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        with contextlib.suppress(OSError):
            if entry.stat(follow_symlinks=False).st_uid == uid:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)


@dataclass
class Environment:
    """What all workers of a batch share: the runtime copy, the paths to hide, and the
    template process that forks workers (see ``runtime/forkserver.py``)."""
    root: Path
    hide: list = field(default_factory=list)
    isolate: bool = False
    expose: list = field(default_factory=list)  # (parent, child, staging dir), see jail._expose
    template: object = None
    sock: object = None
    ready: bool = False
    lock: object = field(default_factory=threading.Lock)
    uids: object = field(default_factory=itertools.count)
    groups: object = None  # cgroups.Groups: a CPU share, process and memory cap per worker

    @classmethod
    def create(cls, hide=(), isolate=None):
        root = Path(tempfile.mkdtemp(prefix="autograder-"))
        os.chmod(root, 0o711)  # workers may traverse but not list: sandbox names are random
        rt = root / "rt" / "agr_runtime"
        rt.mkdir(parents=True)
        for src in RUNTIME_SRC.glob("*.py"):
            shutil.copy(src, rt / src.name)
        for p in (root / "rt", rt, *rt.iterdir()):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        isolate = can_isolate() if isolate is None else isolate
        hide = [str(Path(p).resolve()) for p in hide if Path(p).exists()]
        expose = []
        if isolate:  # the interpreter and its libraries must stay reachable after dropping root
            needed = {pair for prefix in (sys.prefix, sys.base_prefix, sys.executable)
                      for pair in blocked_ancestors(prefix)}
            for i, (parent, child) in enumerate(sorted(needed)):
                stage = root / f"expose-{i}"
                stage.mkdir(mode=0o755)
                expose.append((parent, child, str(stage)))
        env = cls(root=root, hide=hide, isolate=isolate, expose=expose,
                  groups=cgroups.Groups.create() if isolate else None)
        env.start_template()
        return env

    def start_template(self):
        """Start the process that imports torch once and forks a worker per submission."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # matplotlib's font cache lives across batches: building it takes seconds.
        mpl = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "autograder" / "matplotlib"
        mpl.mkdir(parents=True, exist_ok=True)
        boot = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from agr_runtime.forkserver import main; main(sys.argv[2:])")
        self.template = subprocess.Popen(
            [sys.executable, "-I", "-c", boot, str(self.root / "rt"), str(theirs.fileno())],
            cwd=self.root, env=_base_env(MPLCONFIGDIR=str(mpl), HOME=str(self.root)), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), start_new_session=True)
        theirs.close()
        self.sock = ours
        self.sock.settimeout(120)
        self.ready = False  # confirmed by the first spawn: the template imports while we work

    def _wait_ready(self):
        if not self.ready:
            if json.loads(self.sock.recv(1 << 16) or b"{}").get("op") != "ready":
                raise RuntimeError("the worker template did not start (see stderr)")
            self.ready = True

    def spawn(self, spec, fds):
        """Fork a worker from the template; restarts the template once if it died."""
        with self.lock:  # one request at a time on the template's socket
            for attempt in (0, 1):
                try:
                    self._wait_ready()
                    socket.send_fds(self.sock, [json.dumps(spec).encode()], list(fds))
                    return int(json.loads(self.sock.recv(1 << 16))["pid"])
                except (OSError, ValueError, KeyError):
                    if attempt:
                        raise
                    self.stop_template()
                    self.start_template()

    def next_uid(self):
        return UID_BASE + next(self.uids) % UID_COUNT

    def stop_template(self):
        if self.template is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.template.kill()
            self.template.wait()
            self.template = None

    def close(self):
        self.stop_template()
        if self.groups is not None:
            self.groups.close()
        shutil.rmtree(self.root, ignore_errors=True)


class Worker:
    """One submission's worker process: loads the submission and answers calls into it."""

    def __init__(self, submission, env, limits=None, files=None):
        self.submission = Path(submission)
        self.files = files or {}  # name in the sandbox -> source: handed-in and support files
        self.env = env
        self.limits = limits or Limits()
        self.pid = None
        self.dir = None
        self._timer = None  # set by recv
        self._oom_kills = 0  # processes the kernel ended for memory, as last seen
        self.deadline = None  # monotonic time by which the whole submission must be done
        self.budget_seconds = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        self.dir = Path(tempfile.mkdtemp(prefix="s-", dir=self.env.root))
        target = self.dir / ("submission" + "".join(self.submission.suffixes[-1:]))
        shutil.copyfile(self.submission, target)
        copies = [target]
        for name, src in self.files.items():
            copies.append(self.dir / Path(name).name)
            shutil.copyfile(src, copies[-1])
        uid = self.uid = self.env.next_uid()
        if self.env.isolate:
            for p in (self.dir, *copies):
                os.chown(p, uid, uid)
        os.chmod(self.dir, 0o700)
        self.path_in_sandbox = target.name
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        spec = {"dir": str(self.dir), "isolate": self.env.isolate, "hide": self.env.hide,
                "expose": self.env.expose, "uid": uid,
                "env": {"HOME": str(self.dir), "TMPDIR": str(self.dir), "MPLCONFIGDIR": str(self.dir / ".mpl")},
                "limits": {"memory_bytes": self.limits.memory_bytes, "file_bytes": self.limits.file_bytes,
                           "max_processes": self.limits.max_processes}}
        if self.env.groups is not None:
            with contextlib.suppress(OSError):  # then without: limits fall back as documented
                spec["cgroups"] = self.env.groups.add(self.dir.name, self.limits.memory_bytes,
                                                      self.limits.max_processes)
        try:
            self.pid = self.env.spawn(spec, (req_r, resp_w))
        finally:
            os.close(req_r)
            os.close(resp_w)
        return self

    def close(self):
        if self.pid is not None:
            self.kill()
            for fd in (self._req_w, self._resp_r):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.pid = None
            if self.env.groups is not None:
                self.env.groups.remove(self.dir.name)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            if self.env.isolate:
                remove_files_of(self.uid, Path(tempfile.gettempdir()))

    def kill(self):
        """Kill the worker and everything it started: when isolated, ``pid`` is PID 1 of the
        worker's PID namespace, whose death makes the kernel kill every process in it;
        otherwise the worker's process group (a child that calls ``setsid`` escapes that)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    @property
    def alive(self):
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def output_tail(self, limit=2000):
        """The end of what the student's code printed (for crash messages)."""
        try:
            with open(self.dir / "output.txt", "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    # -- messaging -------------------------------------------------------------------------
    def send(self, msg):
        data = codec.dumps(msg)
        data = HEADER.pack(len(data)) + data
        try:
            while data:
                data = data[os.write(self._req_w, data):]
        except BrokenPipeError:
            raise SandboxError(self._death("before it could be asked anything")) from None

    @property
    def measures_cpu(self):
        """Whether ``cpu_used`` can count the worker's CPU time (not when isolated without
        control groups: the grader only sees PID 1 of the worker's namespace there)."""
        return self.env.groups is not None or not self.env.isolate

    def cpu_used(self):
        """CPU seconds used so far by the worker's processes, or None where that cannot be
        measured (see ``measures_cpu``)."""
        if self.env.groups is not None:
            return self.env.groups.cpu_seconds(self.dir.name)
        if not self.env.isolate and self.pid:  # the worker itself and the children it waited for
            try:
                fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
                return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
            except (OSError, ValueError, IndexError):
                return None
        return None

    def _wait(self, doing):
        """Wait until a reply can be read, or raise the timeout ``recv`` set up."""
        t = self._timer
        while True:
            now = time.monotonic()
            step, used = t.wall_end - now, None
            if self.measures_cpu and step > 0:
                if now - t.start < FAST_REPLY:  # most replies come before anything is measured
                    step = min(step, t.start + FAST_REPLY - now)
                elif (cpu := self.cpu_used()) is not None:
                    if t.cpu_start is None:
                        t.cpu_start = cpu  # the call's first FAST_REPLY seconds are not counted
                    used = cpu - t.cpu_start
                    if used >= t.limit:
                        raise SandboxError(f"timed out after {t.limit:.0f} s of CPU time {doing}", kind="timeout")
                    # CPU time can run at most CPUS times faster than the wall clock.
                    step = min(step, max(0.02, (t.limit - used) / CPUS))
            if select.select([self._resp_r], [], [], max(0.0, step))[0]:
                return
            if time.monotonic() >= t.wall_end:
                spent = f"; it used {used:.1f} s of CPU" if used is not None else ""
                raise SandboxError(f"timed out after {t.wall_end - t.start:.0f} s {doing}{t.note}{spent}",
                                   kind="timeout")

    def _read_exact(self, n, doing):
        chunks = []
        while n:
            self._wait(doing)
            chunk = os.read(self._resp_r, min(n, 1 << 20))
            if not chunk:
                raise SandboxError(self._death(doing))
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def recv(self, timeout, doing):
        """The next reply. ``timeout`` is CPU seconds of the worker's processes where those can
        be measured (a busy grading machine then does not turn a slow but correct call into a
        timeout), with WALL_FACTOR times as long on the wall clock for code that waits without
        computing; elsewhere it is wall-clock seconds."""
        now = time.monotonic()
        wall = timeout * (WALL_FACTOR if self.measures_cpu else 1)
        note = ""
        if self.deadline is not None and self.deadline - now < wall:
            # The whole submission's budget ends first: report that, not the call's limit.
            wall = max(0.0, self.deadline - now)
            note = f" (the submission's time budget of {self.budget_seconds:.0f} s is used up)"
        self._timer = _Timer(timeout, now, now + wall, note)
        (n,) = HEADER.unpack(self._read_exact(HEADER.size, doing))
        if n > codec.MAX_MESSAGE_BYTES:
            raise SandboxError(f"reply of {n} bytes {doing} exceeds the limit")
        body = self._read_exact(n, doing)
        # A reply within FAST_REPLY is not checked (reading the memory group on every reply cost
        # about 2.5% of a gradient_descent batch): filling the cap takes longer, and a kill missed
        # here is reported by the next longer call or by the worker's death.
        if time.monotonic() - now >= FAST_REPLY:
            self._check_memory(doing)
        try:
            return codec.loads(body)
        except ValueError as e:
            raise SandboxError(f"unreadable reply {doing}: {e}") from None

    def _out_of_memory(self, doing):
        return (f"the submission's process was ended {doing}: it ran out of its "
                f"{self.limits.memory_bytes >> 20} MiB of memory")

    def _oom_killed(self):
        """Whether the kernel ended one of the worker's processes for memory since last asked."""
        if self.env.groups is None:
            return False
        seen, self._oom_kills = self._oom_kills, self.env.groups.oom_kills(self.dir.name)
        return self._oom_kills > seen

    def _check_memory(self, doing):
        """The kernel picks which of a worker's processes dies when together they pass the
        memory cap: whichever it was, the call fails the same way (same verdict every run)."""
        if self._oom_killed():
            raise SandboxError(self._out_of_memory(doing))

    def _death(self, doing):
        if self._oom_killed():
            return self._out_of_memory(doing)
        return (f"the submission's process ended {doing} (it exited, crashed or ran out of its "
                f"{self.limits.memory_bytes >> 20} MiB of memory)")

    # -- operations ------------------------------------------------------------------------
    def loading_cell(self):
        """The cell the worker was loading when it died or hung (None if unknown)."""
        try:
            return int((self.dir / LOADING_FILE).read_text().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def load(self, mode="all", skip=()):
        self.send({"op": "load", "path": self.path_in_sandbox, "mode": mode, "skip": list(skip)})
        reply = self.recv(self.limits.load_timeout, "while loading the submission")
        if reply.get("op") != "loaded":
            raise SandboxError("unexpected reply while loading the submission")
        return reply

class Session:
    """Calls into the loaded submission for one check. After a SandboxError the channel is
    not trusted any more: the caller must restart the worker."""

    def __init__(self, worker):
        self.worker = worker
        self.cpu = 0.0  # CPU seconds the submission's code used in this session's calls
        self._ids = itertools.count()

    def call(self, target, *args, seed=0, forbid=(), timeout=None, **kwargs):
        """Call ``target`` (a submission name or a probe) and return (ok, value_or_error, info)."""
        call_id = next(self._ids)
        self.worker.send({"op": "call", "id": call_id, "target": target, "args": codec.to_plain(list(args)),
                          "kwargs": codec.to_plain(kwargs), "seed": seed, "forbid": list(forbid)})
        timeout = timeout or self.worker.limits.call_timeout
        reply = self.worker.recv(timeout, f"in {target}")
        if reply.get("op") != "result" or reply.get("id") != call_id:
            raise SandboxError(f"unexpected reply from {target}")
        if isinstance(reply.get("cpu"), (int, float)):
            self.cpu += reply["cpu"]
        return reply
