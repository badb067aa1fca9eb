"""Confine a freshly forked worker before it touches student code (runs in the worker).

The grader's policy (``spec["isolation"]``, ``isolation.Policy.spec``) says what to do:
  namespaces     new mount, PID, network and IPC namespaces and a root file system of the
                 worker's own (inside a new user namespace with ``user_namespace``); then an
                 unprivileged uid of its own (``own_uid``, as root) or no capabilities at all;
                 a seccomp filter (``install_filter``) for the sockets no namespace holds;
  own_uid alone  (root in a container that forbids namespaces) the server runs as an
                 unprivileged uid and gid of its own, no supplementary groups, no capabilities,
                 ``no_new_privs``, a seccomp filter denying every socket but local ones, and the
                 machine's SysV IPC and message queues; its keeper stays root, out of its reach,
                 and at the end kills every process of that uid and removes what it left in the
                 machine's world-writable folders and IPC (``scratch.remove_leftovers``);
  neither        no isolation (``--no-sandbox``): limits and a keeper only.

The worker's file system (``build_root``, from the plan the grader made: ``root_fs.root_plan``)
is a fresh tmpfs holding read-only binds of the system (/usr, /etc, ...) and of the Python
installation, the grader's hidden paths covered again where they fall inside those, a minimal
/dev, private size-capped /tmp, /var/tmp and /dev/shm, a /proc of the worker's own PID
namespace, and the worker's folder, the one writable place it shares with the grader. The old
root is detached: home directories, the checks, other workers' folders, /run and its sockets
do not exist for the worker.

Process layout (host PIDs are what the grader sees):
  template --fork--> setup (joins cgroups, sets limits, unshares, reports the keeper; exits)
                       `--> keeper (PID 1 of the new PID namespace: builds the root, drops
                              |      privileges, reaps orphans, ends when the grader does)
                              `--> server (loads the submission and answers calls)
As root without a user namespace, the template makes the PID namespace itself
(``fork_into_pid_namespace``): its fork is the keeper, and no setup process is forked. Each
fork of a template that imported torch costs about 15 ms of CPU (its page tables copied, then
torn down), and a submission starts two workers.
Killing the keeper makes the kernel kill every process of the namespace: children left in the
background, fork bombs, ``setsid`` escapes. The keeper also ends by itself when its lifeline
(the grader's request pipe) closes, so a grader killed with SIGKILL leaves nothing running.
The server is not PID 1, so student code that kills its own process does die. Without
isolation the keeper is a child subreaper instead: orphans come back to it, and it kills them
all when it ends (a process that leaves its session and is re-parented elsewhere can escape).

Order matters: the PID namespace only applies to children, so the keeper (its PID 1) mounts
/proc; it does so before the old root is detached, because the kernel lets a user namespace
mount a /proc only while another one is fully visible; privileges go last.
"""
import ctypes
import os
import platform
import resource
import select
import signal
from collections.abc import Iterable
from typing import Any

from . import processes, scratch

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID = 0x00020000, 0x10000000, 0x20000000
CLONE_NEWNET, CLONE_NEWIPC = 0x40000000, 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID = 0x1, 0x2
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
PR_SET_CHILD_SUBREAPER, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 36, 47, 4
SYSCALLS = {"x86_64": {"pivot_root": 155, "mount_setattr": 442},
            "aarch64": {"pivot_root": 41, "mount_setattr": 442}}
# statvfs flag -> mount flag, kept when a bind is remounted (a user namespace may not clear them)
KEPT_FLAGS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 16: 16, 64: 64, 1024: 1024,
              2048: 2048, 4096: 1 << 21}

_libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    """The worker could not be confined (reported to the grader, never to the student)."""


def _ok_or_raise(ret: int, what: str) -> None:
    if ret != 0:
        raise SetupError(f"{what}: {os.strerror(ctypes.get_errno())}")


def _describe(exc: BaseException) -> str:
    """A set-up failure in words, for the grader."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _syscall(name: str, *args: int | bytes | ctypes.Array[Any]) -> int:
    """A raw system call; integers go as C longs (syscall() is variadic: a bare int would be
    passed as 32 bits, and a size_t argument would read garbage above them)."""
    numbers = SYSCALLS.get(platform.machine())
    if numbers is None:
        raise SetupError(f"{name}: no system call number known for {platform.machine()}")
    return _libc.syscall(ctypes.c_long(numbers[name]),
                         *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))


def _prctl(option: int, *args: int) -> int:
    args = list(args) + [0] * (4 - len(args))  # type: ignore[assignment]
    return _libc.prctl(ctypes.c_int(option), *(ctypes.c_ulong(a) for a in args))


def first_for_the_oom_killer() -> None:
    """Make this process (and all it starts) the kernel's first choice when memory runs out:
    memory a submission holds outside its processes (a full /dev/shm) then costs a worker, not
    the grader and every result it has not written yet. Raising it needs no privilege."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when the thread that started it ends (Linux)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None, what: str) -> None:
    def enc(s: str | bytes | None) -> bytes | None:
        return s.encode() if isinstance(s, str) else s
    _ok_or_raise(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), what)


# -- limits ------------------------------------------------------------------------------------

def apply_limits(limits: dict[str, int]) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def limit_processes_of_current_user(extra: int) -> None:
    """RLIMIT_NPROC counts every process of the user: allow what runs now plus ``extra``."""
    uid, running = os.getuid(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            running += os.stat(f"/proc/{pid}").st_uid == uid
        except OSError:
            pass
    resource.setrlimit(resource.RLIMIT_NPROC, (running + extra,) * 2)


def _per_namespace_process_count() -> bool:
    """Since Linux 5.14 RLIMIT_NPROC counts a user's processes per user namespace."""
    major, minor = (int(x) for x in platform.release().split(".")[:2])
    return (major, minor) >= (5, 14)


# -- the worker's root file system ----------------------------------------------------------------

def _make_target(path: str, like: str) -> None:
    if os.path.isdir(like):
        os.makedirs(path, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        if not os.path.lexists(path):
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def build_root(plan: list[list[Any]], new_root: str) -> list[str]:
    """Carry out the grader's plan below ``new_root`` (a tmpfs); returns the writable targets.
    Ops (paths are the new root's): ["tmpfs", path, size, writable], ["bind", source, path,
    writable], ["symlink", link target, path], ["hide", path], ["dir", path]."""
    writable = []
    for op, *args in plan:
        if op == "tmpfs":
            path, size, rw = args
            target = new_root + path
            os.makedirs(target, mode=0o755, exist_ok=True)
            mode = "1777" if rw else "0755"
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode}", f"tmpfs on {path}")
            if rw:
                writable.append(target)
        elif op == "bind":
            source, path, rw = args
            target = new_root + path
            _make_target(target, source)
            _mount(source, target, None, MS_BIND | MS_REC, None, f"bind {source}")
            if rw:
                writable.append(target)
        elif op == "symlink":
            link, path = args
            os.makedirs(os.path.dirname(new_root + path), mode=0o755, exist_ok=True)
            os.symlink(link, new_root + path)
        elif op == "hide":
            (path,) = args
            target = new_root + path
            if not os.path.lexists(target):
                continue  # not inside anything bound: already invisible
            if os.path.isdir(target):
                _mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000",
                       f"hide {path}")
            else:  # a file (say the .git file of a worktree): an empty read-only one over it
                _mount("/dev/null", target, None, MS_BIND, None, f"hide {path}")
        elif op == "dir":
            os.makedirs(new_root + args[0], mode=0o755, exist_ok=True)
        else:
            raise SetupError(f"unknown step {op!r} in the worker's root plan")
    return writable


def _mount_points_below(root: str) -> list[str]:
    return [point for point, _, _ in scratch.mounts() if point == root or point.startswith(root + "/")]


def make_read_only(new_root: str, writable: list[str], modern: bool = True) -> None:
    """Everything below ``new_root`` read-only and without set-uid, except ``writable``.
    mount_setattr (Linux 5.12) does the whole tree at once; older kernels remount each
    mount, keeping the flags a user namespace may not clear."""
    if modern:
        attr = (ctypes.c_uint64 * 4)(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
        if _syscall("mount_setattr", AT_FDCWD, new_root.encode(), AT_RECURSIVE, attr, 32) == 0:
            for target in writable:
                attr = (ctypes.c_uint64 * 4)(0, MOUNT_ATTR_RDONLY, 0, 0)
                _ok_or_raise(_syscall("mount_setattr", AT_FDCWD, target.encode(), 0, attr, 32), f"writable {target}")
            return
        if ctypes.get_errno() != 38:  # ENOSYS: an older kernel, below
            _ok_or_raise(-1, "mount_setattr")
    for point in _mount_points_below(new_root):
        kept = sum(ms for st, ms in KEPT_FLAGS.items() if os.statvfs(point).f_flag & st)
        flags = (kept & ~MS_RDONLY) if point in writable else kept | MS_RDONLY
        _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_NOSUID | flags, None, f"read-only {point}")


def enter_root(new_root: str) -> None:
    """Make ``new_root`` this mount namespace's root and detach the old one entirely."""
    os.chdir(new_root)
    _ok_or_raise(_syscall("pivot_root", b".", b"."), "pivot_root")
    _ok_or_raise(_libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")


# -- namespaces and privileges --------------------------------------------------------------------

def template_makes_pid_namespace(policy: dict[str, Any]) -> bool:
    """Whether the template puts the worker it forks in a new PID namespace itself: as root
    without a user namespace (``unshare(CLONE_NEWPID)`` needs CAP_SYS_ADMIN where it lives)."""
    return bool(policy["namespaces"] and not policy["user_namespace"] and os.geteuid() == 0)


def fork_into_pid_namespace() -> int:
    """os.fork, the child being PID 1 of a new PID namespace (in the template, as root). The
    template's own later children (workers, a forked grader) are born in its namespace again:
    if that cannot be restored, the template ends rather than fork anything else (the grader
    starts a new one). Raises SetupError when no namespace could be made; the child must call
    ``forget_host_pid_namespace`` first."""
    global _HOST_PID_NS
    if _HOST_PID_NS is None:
        _HOST_PID_NS = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    if _libc.unshare(CLONE_NEWPID) != 0:
        raise SetupError(f"unshare: {os.strerror(ctypes.get_errno())}")
    try:
        pid = os.fork()
    except BaseException:
        _leave_pid_namespace()
        raise
    if pid:
        _leave_pid_namespace()
    return pid


def _leave_pid_namespace() -> None:
    if _libc.setns(_HOST_PID_NS, CLONE_NEWPID) != 0:
        os.write(2, f"autograder: the worker template could not leave a worker's PID namespace "
                    f"({os.strerror(ctypes.get_errno())}); it ends\n".encode())
        os._exit(71)


def forget_host_pid_namespace() -> None:
    """In a worker forked by ``fork_into_pid_namespace``: close the template's handle on its own
    PID namespace, before anything else (no worker may hold a way back into it)."""
    global _HOST_PID_NS
    if _HOST_PID_NS is not None:
        os.close(_HOST_PID_NS)
        _HOST_PID_NS = None


_HOST_PID_NS: int | None = None  # the template's fd on its own PID namespace, kept for setns


def _map_user(uid: int, gid: int) -> None:
    """In a new user namespace: keep our own uid and gid, mapped to themselves."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def _unshare_user_as_root(flags: int) -> None:
    """Root may map root into a new user namespace only from outside it (since Linux 5.12
    the map needs CAP_SETFCAP where root lives): a helper forked before unsharing writes it,
    as newuidmap does for ordinary users."""
    go_r, go_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        os.close(go_w)
        code = 1
        try:
            if os.read(go_r, 1) == b"1":
                for name in ("uid_map", "gid_map"):
                    with open(f"/proc/{os.getppid()}/{name}", "w") as f:
                        f.write("0 0 1")
                code = 0
        finally:
            os._exit(code)
    os.close(go_r)
    ret = _libc.unshare(flags)
    err = ctypes.get_errno()
    os.write(go_w, b"1" if ret == 0 else b"0")
    os.close(go_w)
    _, status = os.waitpid(helper, 0)
    if ret != 0:
        raise SetupError(f"unshare: {os.strerror(err)}")
    if status != 0:
        raise SetupError("the new user namespace's id map could not be written")


def _drop_capabilities() -> None:
    """Every capability of the user namespace gone, for this process and whatever it runs."""
    _ok_or_raise(_prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
    for cap in range(64):
        if _prctl(PR_CAPBSET_DROP, cap) != 0:
            break  # past the last capability this kernel knows
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    _ok_or_raise(_libc.capset(header, data), "capset")


def _drop_to(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    _ok_or_raise(_prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")


def _set_process_limit(policy: dict[str, Any], max_processes: int) -> None:
    if policy["user_namespace"] and not _per_namespace_process_count():
        limit_processes_of_current_user(max_processes)
    else:
        resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))


# -- the keeper ----------------------------------------------------------------------------------

FAMILY_NUMBERS = 64  # address families are small numbers (AF_MAX is 46 in Linux 6.x)
SHARED_IPC_CALLS = ("shmget", "msgget", "semget", "mq_open")


def install_filter(policy: dict[str, Any]) -> None:
    """The worker's seccomp filter (libseccomp, through pyseccomp), as ``policy`` says
    (``isolation.Policy``): socket() and socketpair() only for ``socket_families`` (AF_VSOCK,
    AF_PACKET, AF_ALG and the rest fail with EACCES), no io_uring (which makes sockets without
    socket()), and, where the machine's IPC is shared (``shared_ipc``), no SysV shared memory,
    message queues or semaphores and no POSIX message queues (ENOSYS, as on a kernel without
    them): one submission's would be seen by the next and outlive the batch, and shared memory
    is charged to no process, so the kernel's out-of-memory killer takes the grader instead.
    The family is compared as the kernel reads it, its low 32 bits: a raw syscall with high bits
    set does not slip past. Needs no_new_privs; holds for this process and all it starts, and
    cannot be removed."""
    import errno
    import socket

    import pyseccomp as seccomp
    allowed = {getattr(socket, name) for name in policy["socket_families"] if hasattr(socket, name)}
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for family in range(FAMILY_NUMBERS):
        if family not in allowed:
            for call in ("socket", "socketpair"):
                f.add_rule(seccomp.ERRNO(errno.EACCES), call, seccomp.Arg(0, seccomp.MASKED_EQ, 0xFFFFFFFF, family))
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "io_uring_setup")
    if policy["shared_ipc"]:
        for call in SHARED_IPC_CALLS:
            f.add_rule(seccomp.ERRNO(errno.ENOSYS), call)
    f.load()


def _start_server(lifeline: int, keep_fds: Iterable[int], sweep_uid: int | None = None,
                  sweep: Iterable[str] = ()) -> None:
    """Fork the server; in the keeper, wait for the end (see the module docstring). With
    ``sweep_uid``, every process of that uid is killed at the end too, and what it left in the
    folders ``sweep`` and the machine's IPC is removed (the uid mode)."""
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the poll below through wake_w
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    server = os.fork()
    if server == 0:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.close(wake_r)
        os.close(wake_w)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        return
    for fd in keep_fds:  # the server's ends: the grader must see EOF when the server dies
        os.close(fd)
    _prctl(PR_SET_DUMPABLE, 0)  # the server runs as the same user: it must not trace the keeper
    poller = select.poll()
    poller.register(lifeline, 0)  # reports only hang-up: the grader closed its end, or died
    poller.register(wake_r, select.POLLIN)
    ended = False
    while not ended:
        for fd, _ in poller.poll():
            if fd == lifeline:
                ended = True
        try:
            while os.read(wake_r, 256):
                pass
        except BlockingIOError:
            pass
        if server in processes.reap_children():
            ended = True
    if sweep_uid is not None:
        processes.kill_uid(sweep_uid)
        scratch.remove_leftovers(sweep_uid, sweep)
    processes.kill_tree(os.getpid(), include_root=False, reap=True)  # without a namespace
    os._exit(0)


def confine(spec: dict[str, Any], lifeline: int, server_fds: list[int], started_fd: int) -> None:
    """Confine this freshly forked process as ``spec`` says; returns in the server process.
    ``lifeline`` is the read end of the grader's request pipe, ``server_fds`` the fds only
    the server keeps, and ``started_fd`` receives the keeper's host PID (what the grader kills)
    or "error: ..." when confinement failed."""
    policy = spec["isolation"]
    limits = spec["limits"]
    if not policy["namespaces"] and policy["own_uid"]:  # root where namespaces are forbidden
        _ok_or_raise(_prctl(PR_SET_CHILD_SUBREAPER, 1), "child subreaper")
        os.write(started_fd, str(os.getpid()).encode())
        os.close(started_fd)
        _start_server(lifeline, server_fds, sweep_uid=spec["uid"], sweep=spec.get("sweep", ()))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["max_processes"],) * 2)  # counted per uid
        _drop_to(spec["uid"])
        install_filter(policy)
        return
    if not policy["namespaces"]:
        limit_processes_of_current_user(limits["max_processes"])
        _ok_or_raise(_prctl(PR_SET_CHILD_SUBREAPER, 1), "child subreaper")
        os.write(started_fd, str(os.getpid()).encode())
        os.close(started_fd)
        _start_server(lifeline, server_fds)
        return
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
    if spec.get("pid_namespace_made"):
        # The template forked us as PID 1 of a new PID namespace: we are the keeper already,
        # and "ok" on started_fd stands for our host PID (the template knows it).
        status_w = started_fd
        try:
            _ok_or_raise(_libc.unshare(flags & ~CLONE_NEWPID), "unshare")
        except Exception as exc:  # noqa: BLE001 - told to the grader through the template
            os.write(status_w, _describe(exc).encode()[:4000])
            os._exit(70)
    else:
        if not policy["user_namespace"]:
            _ok_or_raise(_libc.unshare(flags), "unshare")
        elif os.geteuid() == 0:  # "user" as root: tests of this mode in a root CI run
            _unshare_user_as_root(flags | CLONE_NEWUSER)
        else:
            uid, gid = os.geteuid(), os.getegid()  # until the map is written they read as 65534
            _ok_or_raise(_libc.unshare(flags | CLONE_NEWUSER), "unshare")
            _map_user(uid, gid)
        status_r, status_w = os.pipe()
        keeper = os.fork()
        if keeper:  # the setup process: relay the keeper's verdict, then leave
            os.close(status_w)
            verdict = os.read(status_r, 4096).decode(errors="replace")
            os.write(started_fd, (str(keeper) if verdict == "ok" else f"error: {verdict or 'keeper died'}").encode())
            os._exit(0)
        os.close(status_r)
        os.close(started_fd)
    try:
        _ok_or_raise(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        new_root = spec["new_root"]
        _mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755", "the new root")
        writable = build_root(spec["plan"], new_root)
        _mount("proc", new_root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None, "mount /proc")
        make_read_only(new_root, writable, modern=spec.get("mount_setattr", True))
        enter_root(new_root)
        os.chdir(spec["dir"])
        _set_process_limit(policy, limits["max_processes"])
        if policy["own_uid"]:
            _drop_to(spec["uid"])
        else:
            _drop_capabilities()
    except Exception as exc:  # noqa: BLE001 - told to the grader through the setup process (or the template)
        os.write(status_w, _describe(exc).encode()[:4000])
        os._exit(70)
    os.write(status_w, b"ok")
    os.close(status_w)
    _start_server(lifeline, server_fds)
    install_filter(policy)  # in the server: no_new_privs is set (privileges dropped above)


PROBE_UID = 199_999  # below the workers' uids: the uid mode's probe kills every process of it


def _confined_enough(policy: dict[str, Any], staging: str) -> bool:
    """Inside the probe's confined process: whether it sees what the policy promises."""
    import socket
    if policy["seccomp"]:
        try:
            socket.socket(getattr(socket, "AF_VSOCK", 40), socket.SOCK_STREAM).close()
            return False
        except PermissionError:  # the filter's answer (a kernel without vsock says EAFNOSUPPORT)
            pass
    if policy["namespaces"]:
        return os.getpid() != 1 and os.path.isdir("/usr") and not os.path.exists(staging)
    try:
        os.listdir(staging)
        return False
    except PermissionError:
        pass
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        return False
    except PermissionError:
        return os.getuid() == PROBE_UID


def probe(policy: dict[str, Any]) -> str:
    """"" if this machine lets a worker be confined as ``policy`` (``isolation.Policy.spec``)
    says, else why not: the real confinement, with a small plan, of a process that then only
    looks around and exits."""
    import shutil
    import socket  # noqa: F401 - imported as root: the confined process may not read the stdlib's folder
    import tempfile
    if policy["seccomp"]:
        import pyseccomp  # noqa: F401 - the same, and its absence (no libseccomp) is the answer
    staging = tempfile.mkdtemp(prefix="autograder-probe-")
    lifeline_r, lifeline_w = os.pipe()
    started_r, started_w = os.pipe()
    done_r, done_w = os.pipe()
    spec = {"isolation": policy, "dir": "/", "new_root": staging, "uid": PROBE_UID,
            "limits": {"max_processes": 64}, "plan": [["bind", "/usr", "/usr", False], ["dir", "/proc"]]}
    pid = os.fork()
    if pid == 0:
        try:
            for fd in (lifeline_w, started_r, done_r):
                os.close(fd)
            confine(spec, lifeline_r, [done_w], started_w)
            ok = _confined_enough(policy, staging)
            os.write(done_w, b"ok" if ok else b"the worker could still see the grader's files or the network")
        except BaseException as exc:  # noqa: BLE001 - told through whichever pipe is still open
            for fd in (started_w, done_w):
                try:
                    os.write(fd, f"error: {_describe(exc)}".encode())
                    break
                except OSError:
                    pass
        os._exit(0)
    for fd in (lifeline_r, started_w, done_w):
        os.close(fd)
    try:
        reported = os.read(started_r, 4096).decode(errors="replace")
        if not reported.isdigit():
            return reported.removeprefix("error: ") or "the set-up process ended without a word"
        done = os.read(done_r, 4096).decode(errors="replace")
        return "" if done == "ok" else done.removeprefix("error: ") or "the confined process died"
    finally:
        os.close(lifeline_w)  # the keeper ends with its lifeline
        os.waitpid(pid, 0)
        shutil.rmtree(staging, ignore_errors=True)
