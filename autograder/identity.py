"""A grader's identity: what decides a grade besides the submission, computed once per batch
(digests of the checks, the toolkit's code and the reference: about 300 KB, 4 ms). It is recorded
in every results.json, its digest (``grader_version``) is part of every submission's fingerprint
(a resumed batch regrades what a different grader graded), and the reference's recorded answers
are keyed by it (``reference_answers.answers_key``)."""
import hashlib
import json
import os
from pathlib import Path

from .isolation import Mode


def _digest(files) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def grader_identity(assignment, limits, mode: Mode | str = "") -> dict:
    """What decides a grade besides the submission, part by part (so that a merge of shards
    graded differently can say which part differs): the checks (the assignment's folder), the
    rest of the toolkit's code, the reference, the limits, the data set and the isolation."""
    from .runtime import data
    pkg = Path(__file__).resolve().parent
    own = pkg / "assignments" / assignment.name
    code = [f for f in pkg.rglob("*.py") if own not in f.parents]
    # The checks as declared too: a check's points or function changed where the folder's
    # files do not show it (a course's own copy of a check, a test's stand-in) is another grader.
    declared = [(c.name, c.task, c.points, c.hidden, getattr(c.fn, "__module__", ""), getattr(c.fn, "__qualname__", ""))
                for c in assignment.checks] if assignment.checks is not None else []
    checks = hashlib.sha256((_digest(own.rglob("*.py")) + repr(declared)).encode()).hexdigest()[:16]
    return {"checks": checks, "toolkit": _digest(code), "reference": _digest([assignment.solution]),
            "limits": repr(limits), "data": os.environ.get(data.ENV_VAR) or "",
            "isolation": Mode(mode).value if mode else ""}


def grader_version(identity: dict) -> str:
    """One digest of a ``grader_identity``: part of every submission's fingerprint."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
