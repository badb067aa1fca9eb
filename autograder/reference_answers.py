"""The reference's answers to the checks' calls, computed once per grader rather than per run.

Every submission's checks ask the reference the same questions. A batch pays for them once,
but each cold start of a grader (one Gradescope submission, one ``autograder grade`` of one
notebook) would run the reference again: its imports, torch's lazy imports and its training
runs. So the answers are kept in a file, ``{"key": KEY, "answers": {call key: plain value}}``:

  * shipped in the Gradescope zip, beside the assignment's checks (``SHIPPED``), by
    ``autograder build`` from the answers ``autograder check`` recorded while grading the
    reference;
  * for local grading, in a cache folder of the grader's own (``cache_dir``, 0700), written
    when a grader that had to compute answers closes, and read only where no other user could
    have written it (``cache_folders``: this user's own file in a folder nobody else can write).

``KEY`` digests everything an answer depends on: the checks, the toolkit, the reference, the
data set and the numeric libraries' versions (``answers_key``). A file whose key differs is
never used, so answers are never stale: change a check, the reference or torch, and they are
computed again. The files are the grader's own (never a submission's): a worker cannot see
them (the package folder and home folders are hidden from it, and the cache folder too).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from importlib import metadata
from pathlib import Path

from . import cache_folders, results
from .assignments import Assignment

SHIPPED = "reference_answers.json"  # in autograder/assignments/<name>/ of a built zip
MAX_ANSWERS = 4096  # kept in a file: recorded ones first, then the most recent computed ones
MAX_FILE_BYTES = 256 << 20  # a larger file is not read (it was not written by this module)
LIBRARIES = ("numpy", "torch")


CACHE_FOLDER = "reference-answers"


def cache_dir() -> Path:
    """Where local graders keep answers: ``$XDG_CACHE_HOME/autograder/reference-answers``."""
    return cache_folders.cache_home() / CACHE_FOLDER


def answers_key(identity: dict) -> str:
    """The digest of what the reference's answers depend on: the parts of the grader's
    identity (``identity.grader_identity``) other than limits and isolation, and the versions of
    the numeric libraries that computed them."""
    parts = {k: v for k, v in identity.items() if k not in ("limits", "isolation")}
    for name in LIBRARIES:
        try:
            parts[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            parts[name] = ""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def shipped_path(assignment: Assignment) -> Path:
    from .assignments import HERE
    return HERE / assignment.name / SHIPPED


def cached_path(assignment: Assignment, key: str) -> Path:
    return cache_dir() / f"{assignment.name}-{key}.json"


def _read(path: Path, key: str, private: bool = False) -> dict | None:
    """The answers ``path`` holds for ``key``, or None. ``private``: a file of the cache, read only
    when it is this user's own (``cache_folders.read_private``)."""
    try:
        if private:
            raw = cache_folders.read_private(path, MAX_FILE_BYTES)
            if raw is None:
                return None
        elif path.stat().st_size > MAX_FILE_BYTES:
            return None
        else:
            raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("answers"), dict):
        return None
    return data["answers"]


def load(assignment: Assignment, key: str) -> dict:
    """The answers recorded for ``key``: shipped with the grader, else cached (where the cache
    is this user's alone); {} when none is current (then every answer is computed, as before
    any was recorded)."""
    answers = _read(shipped_path(assignment), key)
    if answers is None and cache_folders.private_folder(CACHE_FOLDER) is not None:
        answers = _read(cached_path(assignment, key), key, private=True)
    return answers or {}


def dump(key: str, answers: dict) -> str:
    kept = dict(list(answers.items())[:MAX_ANSWERS])
    return json.dumps({"key": key, "answers": kept}, sort_keys=True, separators=(",", ":"))


def write(path: Path, key: str, answers: dict) -> Path:
    """Write the answers file atomically (a reader never sees half of one); mkstemp's 0600
    keeps it ours."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    results.atomic_write(path, dump(key, answers))
    return path


def save(assignment: Assignment, key: str, answers: dict) -> Path | None:
    """Keep ``answers`` in the local cache for the next cold grader; a cache that cannot be
    written costs only time (a note on stderr), never a grade."""
    if cache_folders.private_folder(CACHE_FOLDER) is None:  # another user could read or replace them
        return None
    try:
        os.chmod(cache_dir(), 0o700)
        return write(cached_path(assignment, key), key, answers)
    except OSError as e:
        print(f"autograder: the reference's answers were not cached ({e.strerror or e}); the next run "
              "computes them again", file=sys.stderr)
        return None


def ship(assignment: Assignment, key: str, package: Path) -> Path | None:
    """Copy the current answers into a built package's assignment folder (the zip's), or None
    when none are recorded for ``key`` (the zip's grader then computes them on each run)."""
    answers = load(assignment, key)
    if not answers:
        return None
    return write(package / "autograder" / "assignments" / assignment.name / SHIPPED, key, answers)
