"""How the grader starts Python: every interpreter it runs (the page drawer, the isolation
probe, otter's zip builder, the jobs of a cluster) runs with ``-I``, isolated from the folder
the grader was started in and from the environment's Python settings (``PYTHONPATH``, user
site-packages). A submission named ``csv.py`` in the folder being graded is then only a file:
it is never imported by the grader's own processes, whatever folder the grader runs from.
"""
import sys
from pathlib import Path

# The folder holding this toolkit's package: appended to sys.path (after the standard library and
# site-packages), for a toolkit that is not installed where ``-I`` finds it.
PACKAGE_PARENT = str(Path(__file__).resolve().parents[1])


def isolated(*args: str) -> list[str]:
    """The command line ``python -I ARGS`` of the interpreter running the grader."""
    return [sys.executable, "-I", *args]


def running(code: str, *args: str) -> list[str]:
    """``python -I -c CODE ARGS`` where CODE can import this toolkit (``sys.argv[1:]`` are ARGS)."""
    return isolated("-c", f"import sys; sys.path.append({PACKAGE_PARENT!r}); {code}", *args)
