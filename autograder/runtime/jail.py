"""Confine a freshly forked worker before it touches student code (runs in the worker).

Order matters: limits first (they bind the process whatever user it becomes), then, as root,
new mount, network and PID namespaces, hidden paths and exposed interpreter paths, a fork into
the new PID namespace, a fresh /proc, and only then the switch to the unprivileged user (after
which none of the above could be done).

Process layout when isolated (host PIDs are what the grader sees):
  template --fork--> setup process (root; unshares, mounts, forks, exits)
                       `--> reaper (PID 1 of the namespace, unprivileged; reaps orphans)
                              `--> server (the worker proper: loads the submission, runs calls)
Killing the reaper (which the grader does when it is done or a call times out) makes the kernel
kill everything in the namespace: children left in the background, fork bombs, ``setsid``
escapes. The server is not PID 1, so student code that kills its own process does die.
"""
import ctypes
import ctypes.util
import os
import resource

CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID = 0x00020000, 0x40000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
# Shared scratch space the worker gets a private copy of (/tmp holds the workers' own folders,
# so it stays shared: the grader deletes what a worker's user leaves there, see sandbox.Worker).
SCRATCH_DIRS = ("/dev/shm", "/var/tmp")
SCRATCH_BYTES = 256 << 20


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def apply_limits(limits):
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def limit_processes_of_current_user(extra):
    """RLIMIT_NPROC counts every process of the user: allow what runs now plus ``extra``."""
    uid, running = os.getuid(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            running += os.stat(f"/proc/{pid}").st_uid == uid
        except OSError:
            pass
    resource.setrlimit(resource.RLIMIT_NPROC, (running + extra,) * 2)


def _expose(libc, parent, child, stage):
    """Make parent/child reachable for the unprivileged user without touching the host's
    permissions: cover ``parent`` with an empty world-traversable tmpfs (its other contents
    stay hidden) and bind the original child back into it."""
    src = os.path.join(parent, child).encode()
    _check(libc.mount(src, stage.encode(), None, MS_BIND | MS_REC, None), f"bind {src!r}")
    _check(libc.mount(b"tmpfs", parent.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=0755"),
           f"cover {parent}")
    os.mkdir(src, 0o755)
    _check(libc.mount(stage.encode(), src, None, MS_BIND | MS_REC, None), f"rebind {src!r}")


def isolate(hide, expose, uid, max_processes, report_fd):
    """As root: private mounts, no network, hidden paths, a new PID namespace; then become
    ``uid``. Returns in the server process; the reaper's host PID is written to ``report_fd``."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID), "unshare")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    for parent, child, stage in expose:
        _expose(libc, parent, child, stage)
    for path in hide:
        if os.path.isdir(path):
            _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                              b"size=4k,mode=000"), f"hide {path}")
        else:  # a file (say the .git file of a worktree): an empty read-only one over it
            _check(libc.mount(b"/dev/null", path.encode(), None, MS_BIND, None), f"hide {path}")
            _check(libc.mount(None, path.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY, None), f"hide {path}")
    for scratch in SCRATCH_DIRS:  # private, size-capped, gone with the namespace
        if os.path.isdir(scratch) and not os.path.islink(scratch):
            _check(libc.mount(b"tmpfs", scratch.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                              f"size={SCRATCH_BYTES},mode=1777".encode()), f"private {scratch}")
    reaper = os.fork()
    if reaper:  # the setup process: its work is done
        os.write(report_fd, str(reaper).encode())
        os._exit(0)
    os.close(report_fd)
    # PID 1 of the new namespace: a /proc that shows only this namespace's processes.
    _check(libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
    resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    server = os.fork()
    if server:
        _reap_until(server)
    return


def _reap_until(server):
    """PID 1's job: reap orphans; when the server ends, end the namespace (the kernel then
    kills every process left in it)."""
    import signal
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            pid, _ = os.wait()
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if pid == server:
            os._exit(0)
