"""The uid mode's parts (root where namespaces are forbidden, as in a default container): each
worker's own unprivileged uid, and permission bits that keep those uids out of the grading
material (``open_only``)."""
import contextlib
import fcntl
import itertools
import os
import stat
import tempfile
import threading
from pathlib import Path

from .runtime import processes

# As root, each worker runs as its own unprivileged user from this range (no passwd entry
# needed), held by the grader while the worker lives (``UidPool``): concurrent submissions, of
# one grader or of several on one machine, cannot signal, trace or read each other, and one's
# fork bomb cannot use up another's process limit.
UID_BASE, UID_COUNT = 200_000, 10_000
UID_LOCKS = Path("/var/lib/autograder-uids")  # root's own: a lock file per uid in use


class NoUidLeft(OSError):
    """Every worker uid is in use (by this grader and others on the machine)."""


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
        raise NoUidLeft(f"all {UID_COUNT} worker uids are in use")

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
