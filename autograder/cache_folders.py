"""The folders the grader keeps caches in: the reference's answers and matplotlib's font list
under ``$XDG_CACHE_HOME/autograder`` (else ``~/.cache/autograder``), the reference run of
``autograder check`` under the checkout's ``.cache``.

What a cache holds decides grades (a planted answer would fail the reference and pass a wrong
submission), so a cache is used only where nobody else could have written it, OpenSSH's rule
for its own files: the folder and every folder above it belong to this user or to root, and
none is writable by anyone else, but for a sticky folder of root's (``/tmp``), where others
cannot replace what is ours; each file read is this user's own, a regular file written by no
one else. Anywhere else the cache is not used (what it would hold is computed again) and the
terminal says why, once.
"""
import functools
import os
import stat
import sys
from pathlib import Path


def cache_home() -> Path:
    """``$XDG_CACHE_HOME/autograder``, else ``~/.cache/autograder``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autograder"


def why_not_private(path: Path) -> str:
    """"" when ``path`` (a folder) and every folder above it are safe from other users (see the
    module's docstring), else why not, in words."""
    me = os.geteuid()
    real = Path(os.path.realpath(path))
    for folder in [*reversed(real.parents), real]:
        try:
            st = os.stat(folder)
        except OSError as e:
            return f"{folder}: {e.strerror or e}"
        if st.st_uid not in (me, 0):
            return f"{folder} belongs to another user (uid {st.st_uid})"
        shared = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if shared and not (folder != real and st.st_uid == 0 and st.st_mode & stat.S_ISVTX):
            return f"{folder} can be written by other users (mode {stat.S_IMODE(st.st_mode):o})"
    if os.stat(real).st_uid != me:
        return f"{real} is not this user's own"
    return ""


def private_folder(*parts: str, base: Path | None = None) -> Path | None:
    """``base/parts`` (``cache_home()`` by default), made if missing (0700), or None where it is
    not this user's alone (``why_not_private``; said once on stderr)."""
    path = (base or cache_home()).joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        _say_once(str(path), f"it cannot be made ({e.strerror or e})")
        return None
    why = why_not_private(path)
    if why:
        _say_once(str(path), why)
        return None
    return path


def read_private(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` when it is this user's own regular file, writable by nobody else,
    at most ``limit`` bytes; else None. A link is never followed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022
                or st.st_size > limit):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(limit + 1)[:limit]
    except OSError:
        return None
    finally:
        os.close(fd)


@functools.cache
def _say_once(path: str, why: str) -> None:
    print(f"autograder: the cache folder {path} is not used: {why}; what it would hold is computed again",
          file=sys.stderr)
