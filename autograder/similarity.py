"""Groups of submissions whose code is the same once names, whitespace, comments and
docstrings are normalised: a hint for a human to look at, never a verdict. A submission's
signature is computed by its worker before any of its code runs (``runtime/signature.py``)
and kept in its results.json; the grader never parses a submission itself."""
import collections

from .runtime import signature


def code_signature(path) -> str:
    """The signature of a trusted file (the stub a batch's copies are told apart from)."""
    return signature.of_file(path)


def similar_groups(results, stub_signature=""):
    """Groups (of two or more) of submissions with the same code signature, largest first;
    copies of the unchanged stub are left out."""
    groups = collections.defaultdict(list)
    for r in results:
        if r.signature and r.signature != stub_signature:
            groups[r.signature].append(r.submission)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))
