"""Run untrusted submission code in a separate, limited worker process.

The grader talks to the worker over two private pipes (see ``runtime/worker.py``); only plain
data crosses (``runtime/codec.py``). Workers are forked from a template process that has
already imported torch (``runtime/forkserver.py``) and confine themselves before loading any
student code (``runtime/jail.py``). Each worker:
  * runs in a fresh folder holding only a copy of the submission, with a scrubbed environment
    and ``python -I`` (the grader's package is not importable from there);
  * has limits on address space, file size and core dumps, and a time limit per call enforced
    from the grader side (``Worker.recv``): CPU time, and time spent waiting, but not time
    spent queued for a CPU on a busy machine; a stuck worker is killed with all it started;
  * is isolated as its ``isolation.Policy`` says: with namespaces (as root, or as an ordinary
    user where the kernel allows unprivileged user namespaces) it gets its own mount, PID,
    network and IPC namespaces and a root file system of its own (``root_plan``): the system
    and Python read-only, the checks, references, tests, .git, output folder and home
    directories absent; as root also its own control groups where the kernel allows
    (``cgroups.py``) and its own unprivileged user. Where a container forbids namespaces, as
    root it runs as its own unprivileged uid, the grading material made unreadable to it by
    permission bits (``open_only``), the network denied by seccomp, and every process of its
    uid is killed when it ends. Without isolation (``--no-sandbox``, explicit) only the limits
    hold.
"""
import contextlib
import fcntl
import itertools
import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import cgroups, replies
from .checks import CallReply
from .isolation import Kill, Policy, resolve
from .runtime import codec, processes, scratch
from .runtime.worker import LOADING_FILE, OUTPUT_FILE

RUNTIME_SRC = Path(__file__).parent / "runtime"
# As root, each worker runs as its own unprivileged user from this range (no passwd entry
# needed), held by the grader while the worker lives (``UidPool``): concurrent submissions, of
# one grader or of several on one machine, cannot signal, trace or read each other, and one's
# fork bomb cannot use up another's process limit.
UID_BASE, UID_COUNT = 200_000, 10_000
UID_LOCKS = Path("/var/lib/autograder-uids")  # root's own: a lock file per uid in use
PASSED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # correctness settings on some CPUs
CPUS = os.cpu_count() or 1
FAST_REPLY = 0.05  # seconds of a call before its CPU time is read (most replies come sooner)
# What a worker's root file system shows of the machine, read-only (``root_plan``).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
DEVICES = ("null", "zero", "full", "random", "urandom")
SCRATCH_BYTES = 256 << 20  # each of the worker's private /tmp, /var/tmp and /dev/shm
# Modules a call may be made without (``Session.call(..., forbid=...)``): such calls go to a
# worker forked from a template that never imported them, whose file system does not hold them.
FORBIDDABLE = ("torch",)


@dataclass
class Limits:
    """Resource limits for one submission's worker. Call and load limits are seconds of CPU
    time, and (separately) seconds spent waiting (see ``Worker.recv``)."""
    call_timeout: float = 30.0
    load_timeout: float = 60.0
    memory_bytes: int = 6 << 30
    file_bytes: int = 64 << 20
    max_processes: int = 512


class SandboxError(Exception):
    """The worker did something that ends the current check (timeout, crash, bad reply), or
    could not be started ("setup")."""

    def __init__(self, message, kind="crashed"):
        super().__init__(message)
        # "timeout", "crashed", "setup", or "refused": the worker sent what the grader does not
        # accept (``replies``), which only code writing on the worker's own pipe can do
        self.kind = kind


class Stopped(BaseException):
    """Grading was stopped (a signal to the grader): what was running is not a result.
    A BaseException, like KeyboardInterrupt, so that no check's error handling keeps it."""

    def __init__(self, signum=None):
        super().__init__(signum)
        self.signum = signum


# -- the worker's root file system ----------------------------------------------------------------

def _within(path, parent):
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def root_plan(python_paths, hide, runtime_dir, worker_dir):
    """The steps ``jail.build_root`` follows to make a worker's root file system (see its
    docstring for the ops). Only what is listed exists for the worker."""
    plan, bound = [], []

    def bind(source, target, writable=False):
        if not any(_within(target, b) for b in bound):  # binds are recursive: already there
            plan.append(["bind", source, target, writable])
            bound.append(target)

    # Order matters: the fresh mounts first, so that what is bound inside them (a Python in
    # /tmp, the worker's folder) is not covered by them.
    plan.append(["tmpfs", "/dev", "64k", False])
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            plan.append(["bind", f"/dev/{name}", f"/dev/{name}", False])
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        plan.append(["symlink", target, f"/dev/{name}"])
    for path in ("/dev/shm", "/tmp", "/var/tmp"):  # private, size-capped, gone with the worker
        plan.append(["tmpfs", path, str(SCRATCH_BYTES), True])
    for path in SYSTEM_PATHS:
        if os.path.islink(path):  # /bin -> usr/bin where /usr is merged
            plan.append(["symlink", os.readlink(path), path])
        elif os.path.isdir(path):
            bind(path, path)
    wanted = set()
    for path in python_paths:  # the interpreter, the standard library, site-packages
        if os.path.exists(path):
            wanted.add((os.path.realpath(path), os.path.abspath(path)))
            wanted.add((os.path.realpath(path), os.path.realpath(path)))
    for source, target in sorted(wanted, key=lambda st: (st[1].count("/"), st[1])):
        bind(source, target)
    plan.append(["dir", "/proc"])
    plan.append(["bind", str(runtime_dir), str(runtime_dir), False])
    plan.append(["bind", str(worker_dir), str(worker_dir), True])
    plan += [["hide", str(p)] for p in hide]  # where they fall inside what is bound
    return plan


class UidPool:
    """Unprivileged uids for workers, UID_BASE and up. A worker holds its uid (an exclusive lock
    on a file named after it, in a folder only root may write) from start to close, so two
    workers never share one, whether of one grader or of two graders on one machine; a killed
    grader's locks go with it."""

    def __init__(self, folder: Path = UID_LOCKS, fallback: Path | None = None):
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            st = os.lstat(folder)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
                raise PermissionError(f"{folder} is not a folder only this user may write")
        except OSError:  # uids are then unique within this grader only, locked in ``fallback``
            if fallback is None:
                folder = Path(tempfile.mkdtemp(prefix="autograder-uids-"))
            else:  # the batch's scratch folder: it goes with the batch
                folder = fallback
                folder.mkdir(mode=0o700, exist_ok=True)
        self.folder = folder
        self.next = itertools.count(os.getpid() * 7)  # graders start at different places
        self.lock = threading.Lock()

    def take(self) -> tuple[int, int]:
        """(a free uid, the lock's file descriptor to give back)."""
        with self.lock:
            for _ in range(UID_COUNT):
                uid = UID_BASE + next(self.next) % UID_COUNT
                fd = os.open(self.folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                if not processes.of_uid(uid):  # what its last worker left may still be ending
                    return uid, fd
                os.close(fd)
        raise SandboxError(f"all {UID_COUNT} worker uids are in use", kind="setup")

    def give_back(self, fd: int) -> None:
        with contextlib.suppress(OSError):
            os.close(fd)


def hidden_homes() -> list[str]:
    """Where people keep their files: what a worker of the uid mode is kept out of."""
    found = ["/root"]
    with contextlib.suppress(OSError):
        found += [str(p) for p in Path("/home").iterdir()]
    return found + ["/autograder/source"]


def _above(path: str, inner: str) -> bool:
    return inner != path and inner.startswith(path.rstrip("/") + "/")


def open_only(keep: list[str], hide: list[str]) -> None:
    """Permission bits for the uid mode, set by the grader (root) before its first worker starts:
    what a worker needs (``keep``: the Python installation, its own scratch folder) can be
    reached by other users (every folder above it passes through, o+x), and what it must not
    see (``hide``: the checks, solutions, tests, .git, the output folder, home directories) is
    closed to them (o-rwx). Where a hidden folder holds a needed one (/root holding the Python
    installation), it is only passed through, and everything else in it is closed. Workers run
    as other users, with no supplementary groups: only the bits for others count."""
    keep = sorted({os.path.realpath(k) for k in keep if os.path.exists(k)})
    for k in keep:
        parent = os.path.dirname(k)
        while parent not in ("/", ""):
            _chmod(parent, lambda m: m | 0o001)
            parent = os.path.dirname(parent)

    def close(path):
        if any(k == path or _above(k, path) for k in keep):
            return  # needed: inside what a worker uses (a hidden path there is covered below)
        if any(_above(path, k) for k in keep):
            _chmod(path, lambda m: (m & ~0o006) | 0o001)  # pass through, no listing
            with contextlib.suppress(OSError):
                for name in os.listdir(path):
                    close(os.path.join(path, name))
            return
        _chmod(path, lambda m: m & ~0o007)

    for h in hide:
        h = os.path.realpath(h)
        if os.path.lexists(h) and h not in keep:
            if any(k == h or _above(k, h) for k in keep):  # a hidden path inside what is kept
                _chmod(h, lambda m: m & ~0o007)
            else:
                close(h)


def _chmod(path, change) -> None:
    with contextlib.suppress(OSError):
        st = os.lstat(path)
        if not stat.S_ISLNK(st.st_mode) and change(st.st_mode) != st.st_mode:
            os.chmod(path, stat.S_IMODE(change(st.st_mode)))


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
        self.process = None
        self.sock = None
        self.ready = None  # its first message: where its Python lives
        self.lock = threading.Lock()  # one request at a time on its socket
        self.parent = None  # a template this process was forked from (``adopt``): its PID

    @classmethod
    def adopt(cls, root: Path, sock: socket.socket, parent: int) -> "Template":
        """The template this grader was forked from (``forked_grader``): it already imported
        what workers need, and so did this process, once for both. ``sock``: its connection
        to us; its first message is the usual "ready"."""
        template = cls(root)
        template.sock, template.parent = sock, parent
        template.sock.settimeout(120)
        return template

    def start(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # matplotlib's font cache lives across batches: building it takes seconds.
        mpl = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autograder" / "matplotlib"
        try:
            mpl.mkdir(parents=True, exist_ok=True)
        except OSError:  # an unusable cache folder: this batch's own (fonts are looked up again)
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


def module_folders(names) -> list[str]:
    """Where the modules ``names`` are installed (hidden from workers that must do without)."""
    import importlib.util
    found = []
    for name in names:
        with contextlib.suppress(ImportError, ValueError):
            spec = importlib.util.find_spec(name)
            if spec is not None:
                found += list(spec.submodule_search_locations or [os.path.dirname(spec.origin or "")])
    return [f for f in found if f]


@dataclass
class Environment:
    """What all workers of a batch share: the runtime copy, the isolation mode, the paths to
    hide, the template processes that fork workers (``Template``: the main one, and one without
    torch once a call asks for it) and the live workers, which ``stop`` kills at once."""
    root: Path
    policy: Policy
    hide: list = field(default_factory=list)
    templates: dict = field(default_factory=dict)  # modules done without (a tuple) -> Template
    lock: object = field(default_factory=threading.Lock)
    uids: "UidPool" = None
    groups: object = None  # cgroups.Groups: a CPU share, process and memory cap per worker
    live: set = field(default_factory=set)
    live_lock: object = field(default_factory=threading.Lock)
    stopped: bool = False
    mount_setattr: bool = True  # False: the remount per mount that kernels before 5.12 need (tests)

    @classmethod
    def create(cls, hide=(), isolation=None):
        """``isolation``: a mode (or its name), or None for the strongest this machine allows
        (``isolation.resolve``); raises NoIsolation rather than run unconfined unless asked to."""
        policy = resolve(isolation)
        adopted, ADOPTED[:] = ADOPTED[:1], []  # the template we were forked from serves one Environment
        root = adopted[0].root if adopted else make_root()
        # Only the grader and its template list it: a worker sees its own folder alone, bound into
        # a root of its own; in the uid mode it may pass through (x) to its own 0700 folder.
        os.chmod(root, 0o711 if policy.own_uid and not policy.namespaces else 0o700)
        hide = [str(Path(p).resolve()) for p in hide if Path(p).exists()]
        env = cls(root=root, policy=policy, hide=hide, uids=UidPool(fallback=root / "uids") if policy.own_uid else None,
                  groups=cgroups.Groups.create() if policy.cgroups and os.geteuid() == 0 else None)
        if adopted:
            env.templates[()] = adopted[0]
        else:
            env.template()  # it imports torch while the grader does the same
        return env

    def template(self, without=()) -> Template:
        """The template whose workers do without the modules ``without``, started on first use."""
        with self.lock:
            if without not in self.templates:
                if self.stopped:
                    raise Stopped()
                self.templates[without] = Template(self.root, without)
                self.templates[without].start()
            return self.templates[without]

    def python_paths(self, without=()):
        ready = self.template(without).ready
        return [*ready["path"], *ready["prefixes"], os.path.dirname(ready["executable"])]

    def plan(self, worker_dir, without=()):
        """The root file system plan of a worker in ``worker_dir`` (doing without ``without``)."""
        return root_plan(self.python_paths(without), self.hide + module_folders(without), self.root / "rt",
                         worker_dir)

    def spawn(self, spec, fds, without=()):
        """Fork a worker from the template for ``without``; its keeper's PID. Restarts the
        template once if it died; raises SandboxError("setup") when the worker could not be
        confined."""
        template = self.template(without)
        with template.lock:
            for attempt in (0, 1):
                if self.stopped:
                    raise Stopped()
                try:
                    template.wait_ready()
                    if self.policy.namespaces:
                        spec = {**spec, "plan": self.plan(spec["dir"], without)}
                    elif self.policy.own_uid:  # before each worker starts: files made since are covered too
                        open_only(self.python_paths(without) + [str(self.root)], self.hide + hidden_homes())
                    socket.send_fds(template.sock, [json.dumps(spec).encode()], list(fds))
                    reply = json.loads(template.sock.recv(1 << 16))
                    break
                except (OSError, ValueError, KeyError):
                    if attempt or self.stopped:
                        raise
                    template.stop()
                    template.start()
        if "error" in reply:
            raise SandboxError(f"the worker could not be isolated: {reply['error']}", kind="setup")
        return int(reply["pid"])


    def stop(self):
        """Kill every live worker now and refuse new ones (a signal stopped grading)."""
        self.stopped = True  # before the snapshot: a worker registered later sees it
        with self.live_lock:
            workers = list(self.live)
        for w in workers:
            w.kill()

    def stop_templates(self):
        with self.lock:
            for template in self.templates.values():
                template.stop()
            self.templates.clear()

    def close(self):
        """End the batch: kill what still runs (a worker's own thread closes its pipes: from
        here they could be closed under a read), remove every group and the scratch folder."""
        self.stop()
        with self.live_lock:
            names = [w.dir.name for w in self.live if w.dir is not None]
        if self.groups is not None:
            for name in names:
                self.groups.remove(name)
        self.stop_templates()
        if self.groups is not None:
            self.groups.close()
        scratch.remove_tree(self.root)


@dataclass
class _Timer:
    """One wait for a reply (see ``Worker.recv``)."""
    limit: float  # seconds of CPU time; and, separately, seconds of waiting
    start: float  # monotonic
    deadline: float = None  # the submission's time budget ends (monotonic), if sooner
    budget: float = None
    base: tuple = None  # (monotonic, CPU, queued) when first measured, FAST_REPLY into the call


class Worker:
    """One submission's worker process: loads the submission and answers calls into it."""

    def __init__(self, submission, env, limits=None, files=None, without=(), budget=None):
        self.submission = Path(submission)
        self.files = files or {}  # name in the sandbox -> source: handed-in and support files
        self.env = env
        self.without = tuple(without)  # modules this worker does without (see FORBIDDABLE)
        self.budget = budget or replies.Budget()  # bytes of replies left, shared by a submission's workers
        self.signature = None  # the code signature the worker sent before running student code
        self.uid = self._uid_lock = None  # its own uid, where the policy gives it one
        self.call_ids = itertools.count()
        self.limits = limits or Limits()
        self.pid = None  # the keeper: what ``kill`` ends
        self.dir = None
        self._req_w = self._resp_r = None
        self._timer = None  # set by recv
        self._oom_kills = 0  # processes the kernel ended for memory, as last seen
        self.deadline = None  # monotonic time by which the whole submission must be done
        self.budget_seconds = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        """Copy the submission into a fresh folder and start the worker there. On failure
        (SandboxError "setup", Stopped) nothing of it is left."""
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        with self.env.live_lock:
            self.env.live.add(self)
        if self.env.stopped:  # stop() took its snapshot before we were added
            raise Stopped()
        return self

    def _start(self):
        self.dir = Path(tempfile.mkdtemp(prefix="s-", dir=self.env.root))
        target = self.dir / ("submission" + "".join(self.submission.suffixes[-1:]))
        shutil.copy(self.submission, target)
        copies = [target]
        for name, src in self.files.items():
            copies.append(self.dir / Path(name).name)
            shutil.copy(src, copies[-1])
        if self.env.policy.own_uid:  # the worker's own uid (see jail.confine), held until it is closed
            self.uid, self._uid_lock = self.env.uids.take()
            for p in (self.dir, *copies):
                os.chown(p, self.uid, self.uid)
        uid = self.uid if self.env.policy.own_uid else os.geteuid()
        os.chmod(self.dir, 0o700)
        self.path_in_sandbox = target.name
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        spec = {"dir": str(self.dir), "isolation": self.env.policy.spec(), "uid": uid,
                "new_root": str(self.env.root / "newroot"),
                "without": list(self.without),
                "mount_setattr": self.env.mount_setattr,
                "env": {"HOME": str(self.dir), "TMPDIR": str(self.dir), "MPLCONFIGDIR": str(self.dir / ".mpl")},
                "limits": {"memory_bytes": self.limits.memory_bytes, "file_bytes": self.limits.file_bytes,
                           "max_processes": self.limits.max_processes}}
        if self.env.groups is not None:
            with contextlib.suppress(OSError):  # then without: limits fall back as documented
                spec["cgroups"] = self.env.groups.add(self.dir.name, self.limits.memory_bytes,
                                                      self.limits.max_processes)
        try:
            self.pid = self.env.spawn(spec, (req_r, resp_w), self.without)
        finally:
            os.close(req_r)
            os.close(resp_w)

    def close(self):
        if self.pid is not None:
            self.kill()
            self.pid = None
        for fd in (self._req_w, self._resp_r):  # the keeper's lifeline closes with _req_w
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._req_w = self._resp_r = None
        if self.dir is not None:
            if self.env.groups is not None:
                self.env.groups.remove(self.dir.name)
            scratch.remove_tree(self.dir)
            self.dir = None
        if self._uid_lock is not None:  # its processes are gone (``kill``): the uid is free again
            if not self.env.policy.namespaces:  # it shared /tmp: what it left there goes too
                scratch.remove_owned(self.uid)
            self.env.uids.give_back(self._uid_lock)
            self._uid_lock = None
        with self.env.live_lock:
            self.env.live.discard(self)

    def kill(self):
        """Kill the worker and everything it started, as its policy says (``isolation.Kill``):
        ``pid`` is PID 1 of the worker's PID namespace, whose death makes the kernel kill every
        process in it; or a keeper whose uid the worker does not have, killed with every
        process of the worker's own uid; or a child subreaper, whose descendants are killed
        first."""
        pid = self.pid
        if pid is None:
            return
        kill = self.env.policy.kill
        if kill is Kill.SUBREAPER:
            processes.kill_tree(pid)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, 9)
        if kill is Kill.UID and self.uid is not None:
            processes.kill_uid(self.uid)

    @property
    def alive(self):
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def read_file(self, name, limit, tail=False):
        """Up to ``limit`` bytes of the file ``name`` in the worker's folder (its end with
        ``tail``), or b"". The worker owns that folder: the name may be a link (to the checks,
        to /dev/zero), a named pipe that never answers, a hard link to someone else's file or
        a device. Only a regular file with one link is read, never following a link, never
        blocking, never more than ``limit`` bytes."""
        if self.dir is None:
            return b""
        try:
            fd = os.open(self.dir / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError:
            return b""
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                return b""
            start = max(0, st.st_size - limit) if tail else 0
            return os.pread(fd, limit, start)
        except OSError:
            return b""
        finally:
            os.close(fd)

    def output_tail(self, limit=2000):
        """The end of what the student's code printed (for crash messages)."""
        return self.read_file(OUTPUT_FILE, limit, tail=True).decode("utf-8", errors="replace")

    # -- messaging -------------------------------------------------------------------------
    def send(self, msg):
        data = codec.frame(msg)
        try:
            while data:
                data = data[os.write(self._req_w, data):]
        except BrokenPipeError:
            raise SandboxError(self._death("before it could be asked anything")) from None

    def usage(self):
        """(CPU seconds, seconds queued for a CPU) of the worker's processes so far, or None
        when its keeper is gone. The control groups' CPU clock, where there are groups, also
        counts processes that ended unwaited-for."""
        found = processes.usage(self.pid)
        if found is None:
            return None
        cpu, queued = found
        if self.env.groups is not None:
            cpu = self.env.groups.cpu_seconds(self.dir.name) or cpu
        return cpu, queued

    def _wait(self, doing):
        """Wait until a reply can be read, or raise the timeout ``recv`` set up."""
        t = self._timer
        while True:
            now = time.monotonic()
            if t.deadline is not None and now >= t.deadline:
                raise SandboxError(f"timed out {doing}: the submission's time budget of {t.budget:g} s "
                                   "(wall clock) is used up", kind="timeout")
            if now - t.start < FAST_REPLY:  # most replies come before anything is measured
                step = t.start + FAST_REPLY - now
            elif (found := self.usage()) is None:  # the keeper is gone: the read below sees the end
                if now - t.start >= 2 * t.limit:  # or /proc cannot be read: the wall clock, then
                    raise SandboxError(f"timed out after {2 * t.limit:g} s (wall clock) {doing}", kind="timeout")
                step = 0.05
            else:
                if t.base is None:
                    t.base = (now, *found)  # the call's first FAST_REPLY seconds are not counted
                cpu = found[0] - t.base[1]
                waited = (now - t.base[0]) - cpu - (found[1] - t.base[2])
                if not cpu < t.limit:
                    raise SandboxError(f"timed out after {t.limit:g} s of CPU time {doing}", kind="timeout")
                if not waited < t.limit:
                    raise SandboxError(f"timed out after {t.limit:g} s of waiting {doing} (sleeping or blocked, "
                                       f"not computing; it computed for {cpu:.1f} s)", kind="timeout")
                # CPU time runs at most CPUS times as fast as the clock, waiting as fast.
                step = max(0.02, min((t.limit - cpu) / CPUS, t.limit - waited))
            if t.deadline is not None:
                step = min(step, t.deadline - now)
            if select.select([self._resp_r], [], [], max(0.0, step))[0]:
                return

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
        """The next reply's bytes (what they mean is for ``read_reply``). ``timeout`` counts two
        things separately: CPU seconds of all the worker's processes, and seconds it spent
        waiting (sleeping, blocked: neither
        computing nor queued for a CPU). Time queued behind other work on a busy machine
        counts as neither, so a correct call times out the same way on a busy machine as on an
        idle one. The submission's time budget, if it ends sooner, is wall-clock."""
        self._timer = _Timer(timeout, time.monotonic(), self.deadline, self.budget_seconds)
        now = self._timer.start
        (n,) = codec.FRAME.unpack(self._read_exact(codec.FRAME.size, doing))
        try:
            if n > replies.MAX_REPLY_BYTES:
                raise replies.BadReply(f"a reply of {n >> 20} MiB exceeds the {replies.MAX_REPLY_BYTES >> 20} MiB "
                                       "limit")
            self.budget.spend(codec.FRAME.size + n)
        except replies.BadReply as e:
            raise SandboxError(f"the submission's process sent a reply the grader refuses {doing}: {e}",
                               kind="refused") from None
        body = self._read_exact(n, doing)
        # A reply within FAST_REPLY is not checked (reading the memory group on every reply cost
        # about 2.5% of a gradient_descent batch): filling the cap takes longer, and a kill missed
        # here is reported by the next longer call or by the worker's death.
        if time.monotonic() - now >= FAST_REPLY:
            self._check_memory(doing)
        return body

    def read_reply(self, read, timeout, doing):
        """The next reply, read by ``read`` (one of ``replies``' schemas): a reply that does not
        fit it is a SandboxError naming why (the channel is not trusted after it)."""
        body = self.recv(timeout, doing)
        try:
            return read(body)
        except replies.BadReply as e:
            raise SandboxError(f"the submission's process sent a reply the grader refuses {doing}: {e}",
                               kind="refused") from None

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
        if self.env.stopped:
            raise Stopped()
        if self._oom_killed():
            return self._out_of_memory(doing)
        return (f"the submission's process ended {doing} (it exited, crashed or ran out of its "
                f"{self.limits.memory_bytes >> 20} MiB of memory)")

    # -- operations ------------------------------------------------------------------------
    def loading_cell(self):
        """The cell the worker was loading when it died or hung (None if unknown)."""
        raw = self.read_file(LOADING_FILE, 16).strip()
        return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else None

    def load(self, mode="all", skip=(), keep=(), sign=True):
        """Load the submission: {"fatal", "cell_errors", "names", "signature"} (see
        ``replies.loaded``). The worker sends the code's signature before it runs any of it
        ("" if not ``sign``). ``keep``: names definitions-only loading keeps however they are
        bound (the graded ones)."""
        doing = "while loading the submission"
        self.send({"op": "load", "path": self.path_in_sandbox, "mode": mode, "skip": list(skip), "keep": list(keep),
                   "sign": sign})
        self.signature = self.read_reply(replies.parsed, self.limits.load_timeout, doing)
        return {**self.read_reply(replies.loaded, self.limits.load_timeout, doing), "signature": self.signature}


class Session:
    """Calls into the loaded submission for one check. After a SandboxError the channel is
    not trusted any more: the caller must restart the worker. ``others(without)`` gives the
    loaded worker for calls made with ``forbid`` (started on first use)."""

    def __init__(self, worker, others=None):
        self.worker = worker
        self.others = others
        self.cpu = 0.0  # CPU seconds the submission's code used in this session's calls
        self.values = 0  # calls that returned a value

    def _worker_for(self, forbid):
        without = tuple(sorted(set(forbid)))
        if not without:
            return self.worker
        unknown = [m for m in without if m not in FORBIDDABLE]
        if unknown:
            raise ValueError(f"forbid={list(forbid)}: only {list(FORBIDDABLE)} can be forbidden")
        if self.others is None:
            raise ValueError("this session has no worker for calls with forbid")
        return self.others(without)

    def call(self, target, *args, seed=0, forbid=(), timeout=None, return_args=False, **kwargs) -> CallReply:
        """Call ``target`` (a submission name or a probe) and return its ``CallReply``; with
        ``return_args``, holding the positional arguments as the call left them."""
        worker = self._worker_for(forbid)
        call_id = next(worker.call_ids)  # per worker: a reply left over from an earlier call never fits
        worker.send({"op": "call", "id": call_id, "target": target, "args": codec.to_plain(list(args)),
                     "kwargs": codec.to_plain(kwargs), "seed": seed, "return_args": bool(return_args)})
        timeout = timeout or worker.limits.call_timeout
        reply = worker.read_reply(lambda body: replies.result(body, call_id, len(args) if return_args else None),
                                  timeout, f"in {target}")
        self.cpu += reply.cpu
        self.values += reply.ok
        return reply
