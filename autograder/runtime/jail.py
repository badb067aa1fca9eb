"""Confine a freshly forked worker before it touches student code (runs in the worker).

Order matters: limits first (they bind the process whatever user it becomes), then, as root,
new mount and network namespaces, hidden paths and exposed interpreter paths, and only then
the switch to the unprivileged user (after which none of the above could be done).
"""
import ctypes
import ctypes.util
import os
import resource

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18


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


def isolate(hide, expose, uid, max_processes):
    """As root: private mounts, no network, hidden paths; then become ``uid``."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    for parent, child, stage in expose:
        _expose(libc, parent, child, stage)
    for path in hide:
        _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          b"size=4k,mode=000"), f"hide {path}")
    resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
