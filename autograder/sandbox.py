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
    network and IPC namespaces and a root file system of its own (``root_fs.py``): the system
    and Python read-only, the checks, references, tests, .git, output folder and home
    directories absent; as root also its own control groups where the kernel allows
    (``cgroups.py``) and its own unprivileged user. Where a container forbids namespaces, as
    root it runs as its own unprivileged uid, the grading material and the batch's inputs made
    unreadable to it by permission bits (``worker_uids.py``), the network and the machine's IPC
    denied by seccomp, and when it ends every process of its uid is killed and what the uid
    left in the machine's world-writable folders and IPC removed (``scratch.remove_leftovers``).
    In every isolating mode a seccomp filter allows only the socket families the mode needs.
    Without isolation (``--no-sandbox``, explicit) only the limits hold.
"""
import concurrent.futures
import contextlib
import enum
import itertools
import json
import os
import select
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import cgroups, replies
from .reply_clock import FAST_REPLY, ReplyClock, TimedOut
from .root_fs import module_folders, root_plan
from .worker_template import ADOPTED, Template, make_root
from .worker_uids import NoUidLeft, UidPool, hidden_homes, open_only
from .checking import CallReply
from .isolation import Kill, Mode, Policy, resolve
from .runtime import codec, processes, scratch
from .runtime.worker import LOADING_FILE, OUTPUT_FILE

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


class ErrorKind(enum.StrEnum):
    """Why a worker ended the current check (``SandboxError.kind``)."""
    CRASHED = "crashed"  # its process died, or closed its pipe
    TIMEOUT = "timeout"  # a time limit (CPU, waiting, or the submission's budget)
    SETUP = "setup"  # it could not be started or confined
    REFUSED = "refused"  # it sent what the grader does not accept (``replies``): only code
    # writing on the worker's own pipe can do that


class SandboxError(Exception):
    """The worker did something that ends the current check (timeout, crash, bad reply), or
    could not be started (``ErrorKind.SETUP``)."""

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.CRASHED):
        super().__init__(message)
        self.kind = kind


class Stopped(BaseException):
    """Grading was stopped (a signal to the grader): what was running is not a result.
    A BaseException, like KeyboardInterrupt, so that no check's error handling keeps it."""

    def __init__(self, signum: int | None = None):
        super().__init__(signum)
        self.signum = signum


@dataclass
class Environment:
    """What all workers of a batch share: the runtime copy, the isolation mode, the paths to
    hide, the template processes that fork workers (``Template``: the main one, and one without
    torch once a call asks for it) and the live workers, which ``stop`` kills at once."""
    root: Path
    policy: Policy
    hide: list = field(default_factory=list)
    templates: dict = field(default_factory=dict)  # modules done without (a tuple) -> Template
    lock: threading.Lock = field(default_factory=threading.Lock)
    uids: "UidPool | None" = None
    groups: "cgroups.Groups | None" = None  # a CPU share, process and memory cap per worker
    live: set = field(default_factory=set)
    live_lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: bool = False
    mount_setattr: bool = True  # False: the remount per mount that kernels before 5.12 need (tests)
    # Where a worker sharing the machine (``Policy.shared_ipc``) can leave files: found once,
    # beside the template's start (``scratch.shared_folders``), swept when each worker ends.
    _shared: "concurrent.futures.Future[list[str]] | None" = None

    @classmethod
    def create(cls, hide: Sequence[str | os.PathLike[str]] = (), isolation: Mode | str | None = None
               ) -> "Environment":
        """``isolation``: a mode (or its name), or None for the strongest this machine allows
        (``isolation.resolve``); raises NoIsolation rather than run unconfined unless asked to."""
        policy = resolve(isolation)
        adopted, ADOPTED[:] = ADOPTED[:1], []  # the template we were forked from serves one Environment
        root = adopted[0].root if adopted else make_root()
        # Only the grader and its template list it: a worker sees its own folder alone, bound into
        # a root of its own; in the uid mode it may pass through (x) to its own 0700 folder.
        os.chmod(root, 0o711 if policy.own_uid and not policy.namespaces else 0o700)
        # A folder holding the batch's scratch (/tmp, given as the folder of submissions) is not
        # closed: its other entries are hidden one by one (the submissions found in it).
        hide = [h for h in (str(Path(p).resolve()) for p in hide if Path(p).exists())
                if not (str(root) + "/").startswith(h.rstrip("/") + "/")]
        env = cls(root=root, policy=policy, hide=hide, uids=UidPool(fallback=root / "uids") if policy.own_uid else None,
                  groups=cgroups.Groups.create() if policy.cgroups and os.geteuid() == 0 else None)
        if policy.shared_ipc:
            pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
            env._shared = pool.submit(scratch.shared_folders, (str(root),))
            pool.shutdown(wait=False)
        if adopted:
            env.templates[()] = adopted[0]
        else:
            env.template()  # it imports torch while the grader does the same
        return env

    def shared_folders(self) -> list[str]:
        """The machine's world-writable folders (``scratch.shared_folders``), where a worker that
        shares the machine can leave files; [] for workers with folders of their own."""
        return self._shared.result() if self._shared is not None else []

    def template(self, without: tuple[str, ...] = ()) -> Template:
        """The template whose workers do without the modules ``without``, started on first use."""
        with self.lock:
            if without not in self.templates:
                if self.stopped:
                    raise Stopped()
                self.templates[without] = Template(self.root, without)
                self.templates[without].start()
            return self.templates[without]

    def python_paths(self, without: tuple[str, ...] = ()) -> list[str]:
        ready = self.template(without).ready
        if ready is None:  # asked before the template said where its Python lives (``wait_ready``)
            raise RuntimeError("the worker template has not started yet")
        # Not a checkout of the toolkit put on sys.path (setuptools' compat editable install):
        # workers import nothing of it (their runtime is a copy), and it holds the grading material.
        return [p for p in (*ready["path"], *ready["prefixes"], os.path.dirname(ready["executable"]))
                if os.path.realpath(p) not in self.hide]

    def plan(self, worker_dir: str, without: tuple[str, ...] = ()) -> list[list[Any]]:
        """The root file system plan of a worker in ``worker_dir`` (doing without ``without``)."""
        return root_plan(self.python_paths(without), self.hide + module_folders(without), self.root / "rt",
                         worker_dir)

    def spawn(self, spec: dict[str, Any], fds: Sequence[int], without: tuple[str, ...] = ()) -> int:
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
                    if template.sock is None:
                        raise OSError("the worker template has no connection")
                    socket.send_fds(template.sock, [json.dumps(spec).encode()], list(fds))
                    reply = json.loads(template.sock.recv(1 << 16))
                    break
                except (OSError, ValueError, KeyError):
                    if attempt or self.stopped:
                        raise
                    template.stop()
                    template.start()
        if "error" in reply:
            raise SandboxError(f"the worker could not be isolated: {reply['error']}", kind=ErrorKind.SETUP)
        return int(reply["pid"])


    def stop(self) -> None:
        """Kill every live worker now and refuse new ones (a signal stopped grading)."""
        self.stopped = True  # before the snapshot: a worker registered later sees it
        with self.live_lock:
            workers = list(self.live)
        for w in workers:
            w.kill()

    def stop_templates(self) -> None:
        with self.lock:
            for template in self.templates.values():
                template.stop()
            self.templates.clear()

    def close(self) -> None:
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


class Worker:
    """One submission's worker process: loads the submission and answers calls into it."""

    def __init__(self, submission: str | os.PathLike[str], env: Environment, limits: Limits | None = None,
                 files: dict[str, Path] | None = None, without: tuple[str, ...] = (),
                 budget: replies.Budget | None = None, deadline: float | None = None,
                 budget_seconds: float | None = None):
        """``deadline``: the monotonic time by which the whole submission must be done (None:
        only the per-call limits), its time budget being ``budget_seconds`` (for messages)."""
        self.submission = Path(submission)
        self.files = files or {}  # name in the sandbox -> source: handed-in and support files
        self.env = env
        self.without = tuple(without)  # modules this worker does without (see FORBIDDABLE)
        self.budget = budget or replies.Budget()  # bytes of replies left, shared by a submission's workers
        self.signature: str | None = None  # the code signature the worker sent before running student code
        self.uid: int | None = None  # its own uid, where the policy gives it one
        self._uid_lock: int | None = None
        self.call_ids = itertools.count()
        self.limits = limits or Limits()
        self.pid: int | None = None  # the keeper: what ``kill`` ends
        self.dir: Path | None = None
        self._req_w: int | None = None
        self._resp_r: int | None = None
        self._clock: ReplyClock | None = None  # set by recv
        self._oom = cgroups.OomWatch(None, "")  # the worker's group, once it has one
        self.deadline = deadline
        self.budget_seconds = budget_seconds
        self.names: list[str] = []  # what the submission defines, once loaded (``load``)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "Worker":
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
            assert self.env.uids is not None  # every own-uid Environment has a pool
            try:
                self.uid, self._uid_lock = self.env.uids.take()
            except NoUidLeft as e:
                raise SandboxError(str(e), kind=ErrorKind.SETUP) from None
            for p in (self.dir, *copies):
                os.chown(p, self.uid, self.uid)
        uid = self.uid if self.env.policy.own_uid else os.geteuid()
        os.chmod(self.dir, 0o700)
        self.path_in_sandbox = target.name
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        spec = {"dir": str(self.dir), "isolation": self.env.policy.spec(), "uid": uid,
                "sweep": self.env.shared_folders(),  # what its keeper clears if the grader dies
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
            self._oom = cgroups.OomWatch(self.env.groups, self.dir.name)
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
            if self.env.policy.shared_ipc:  # it shared the machine: what it left there goes too
                scratch.remove_leftovers(self.uid, self.env.shared_folders())
            self.env.uids.give_back(self._uid_lock)
            self._uid_lock = None
        with self.env.live_lock:
            self.env.live.discard(self)

    def kill(self) -> None:
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
    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def read_file(self, name: str, limit: int, tail: bool = False) -> bytes:
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

    def output_tail(self, limit: int = 2000) -> str:
        """The end of what the student's code printed (for crash messages)."""
        return self.read_file(OUTPUT_FILE, limit, tail=True).decode("utf-8", errors="replace")

    # -- messaging -------------------------------------------------------------------------
    def send(self, msg: dict[str, Any]) -> None:
        data = codec.frame(msg)
        if self._req_w is None:
            raise SandboxError(self._death("before it could be asked anything"))
        try:
            while data:
                data = data[os.write(self._req_w, data):]
        except BrokenPipeError:
            raise SandboxError(self._death("before it could be asked anything")) from None

    def usage(self) -> tuple[float, float] | None:
        """(CPU seconds, seconds queued for a CPU) of the worker's processes so far, or None
        when its keeper is gone. The control groups' CPU clock, where there are groups, also
        counts processes that ended unwaited-for."""
        found = processes.usage(self.pid)
        if found is None:
            return None
        cpu, queued = found
        if self.env.groups is not None and self.dir is not None:
            cpu = self.env.groups.cpu_seconds(self.dir.name) or cpu
        return cpu, queued

    def _wait(self, doing: str) -> None:
        """Wait until a reply can be read, or raise the timeout ``recv`` set up."""
        assert self._clock is not None and self._resp_r is not None
        while True:
            try:
                step = self._clock.next_look(self.usage, doing)
            except TimedOut as e:
                raise SandboxError(str(e), kind=ErrorKind.TIMEOUT) from None
            if select.select([self._resp_r], [], [], step)[0]:
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

    def recv(self, timeout: float, doing: str) -> bytes:
        """The next reply's bytes (what they mean is for ``read_reply``). ``timeout`` counts CPU
        seconds of all the worker's processes and seconds it spent waiting, apart (see
        ``reply_clock``); the submission's time budget, if it ends sooner, is wall-clock."""
        self._clock = clock = ReplyClock.starting_now(timeout, self.deadline, self.budget_seconds)
        (n,) = codec.FRAME.unpack(self._read_exact(codec.FRAME.size, doing))
        try:
            if n > replies.MAX_REPLY_BYTES:
                raise replies.BadReply(f"a reply of {n >> 20} MiB exceeds the {replies.MAX_REPLY_BYTES >> 20} MiB "
                                       "limit")
            self.budget.spend(codec.FRAME.size + n)
        except replies.BadReply as e:
            raise SandboxError(f"the submission's process sent a reply the grader refuses {doing}: {e}",
                               kind=ErrorKind.REFUSED) from None
        body = self._read_exact(n, doing)
        # A reply within FAST_REPLY is not checked (reading the memory group on every reply cost
        # about 2.5% of a gradient_descent batch): filling the cap takes longer, and a kill missed
        # here is reported by the next longer call or by the worker's death.
        if clock.measured_for(FAST_REPLY):
            self._check_memory(doing)
        return body

    def read_reply(self, read: Callable[[bytes], Any], timeout: float, doing: str) -> Any:
        """The next reply, read by ``read`` (one of ``replies``' schemas): a reply that does not
        fit it is a SandboxError naming why (the channel is not trusted after it)."""
        body = self.recv(timeout, doing)
        try:
            return read(body)
        except replies.BadReply as e:
            raise SandboxError(f"the submission's process sent a reply the grader refuses {doing}: {e}",
                               kind=ErrorKind.REFUSED) from None

    def _out_of_memory(self, doing):
        return (f"the submission's process was ended {doing}: it ran out of its "
                f"{self.limits.memory_bytes >> 20} MiB of memory")

    def _check_memory(self, doing):
        """The kernel picks which of a worker's processes dies when together they pass the
        memory cap: whichever it was, the call fails the same way (same verdict every run)."""
        if self._oom.new_kills():
            raise SandboxError(self._out_of_memory(doing))

    def _death(self, doing):
        if self.env.stopped:
            raise Stopped()
        if self._oom.new_kills():
            return self._out_of_memory(doing)
        return (f"the submission's process ended {doing} (it exited, crashed or ran out of its "
                f"{self.limits.memory_bytes >> 20} MiB of memory)")

    # -- operations ------------------------------------------------------------------------
    def loading_cell(self) -> int | None:
        """The cell the worker was loading when it died or hung (None if unknown)."""
        raw = self.read_file(LOADING_FILE, 16).strip()
        return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else None

    def load(self, mode: str = "all", skip: Sequence[int] = (), keep: Sequence[str] = (), sign: bool = True
             ) -> dict[str, Any]:
        """Load the submission: {"fatal", "cell_errors", "names", "signature"} (see
        ``replies.loaded``). The worker sends the code's signature before it runs any of it
        ("" if not ``sign``). ``keep``: names definitions-only loading keeps however they are
        bound (the graded ones)."""
        doing = "while loading the submission"
        self.send({"op": "load", "path": self.path_in_sandbox, "mode": mode, "skip": list(skip), "keep": list(keep),
                   "sign": sign})
        self.signature = self.read_reply(replies.parsed, self.limits.load_timeout, doing)
        loaded = {**self.read_reply(replies.loaded, self.limits.load_timeout, doing), "signature": self.signature}
        self.names = loaded["names"]
        return loaded


class Session:
    """Calls into the loaded submission for one check. After a SandboxError the channel is
    not trusted any more: the caller must restart the worker. ``others(without)`` gives the
    loaded worker for calls made with ``forbid`` (started on first use)."""

    def __init__(self, worker: Worker, others: Callable[[tuple[str, ...]], Worker] | None = None):
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

    def call(self, target: str, *args: Any, seed: int = 0, forbid: Sequence[str] = (), timeout: float | None = None,
             return_args: bool = False, **kwargs: Any) -> CallReply:
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
