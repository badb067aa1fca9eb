"""Gradescope's entry point in the zip: grade ``/autograder/submission`` with this toolkit's
engine and write ``/autograder/results/results.json`` in Gradescope's format.

The zip's ``run_autograder`` runs ``python -m autograder.gradescope``. It reads the same
``otter_config.json`` as the otter plugin (``otter_plugin.EnginePlugin``, which ``otter run -a
autograder.zip`` still uses) and writes the same results, without otter's run: otter would
import itself and pandas and start a Jupyter kernel to execute an empty notebook, about two
seconds of CPU that a student on half a virtual CPU waits four seconds for
(``benchmarks/cold_submission.py`` measures both). No feedback pages are drawn: Gradescope
shows results.json.

``AUTOGRADER_DIR`` (default ``/autograder``) relocates Gradescope's layout (``source/``,
``submission/``, ``results/``), for a run outside Gradescope.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from . import forked_grader, grade, results, sandbox
from .isolation import Mode, NoIsolation

PLUGIN = "autograder.otter_plugin.EnginePlugin"


def plugin_config(source: Path) -> dict:
    """This toolkit's entry of the zip's otter_config.json ({"assignment": NAME, ...})."""
    config = json.loads((source / "otter_config.json").read_text())
    for plugin in config.get("plugins", []):
        if isinstance(plugin, dict) and PLUGIN in plugin:
            return plugin[PLUGIN]
    raise ValueError(f"{source / 'otter_config.json'} names no {PLUGIN}")


def read_metadata(ag_dir: Path) -> dict | None:
    """Gradescope's ``submission_metadata.json`` (who submitted, when, the due dates), or None."""
    try:
        path = ag_dir / "submission_metadata.json"
        if path.stat().st_size > 16 << 20:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def grade_submission(config: dict, target: Path, hide: list[Path], name: str | None = None,
                     metadata: dict | None = None) -> dict:
    """Grade one handed-in submission (a notebook, or the folder holding it) as the zip's
    configuration says; Gradescope's results.json as a dict. Where the machine cannot isolate
    student code and the zip was not built with ``--no-sandbox``, no student code runs: the
    submission gets 0 and a message saying why. With a ``late_policy`` in the configuration
    and Gradescope's ``metadata``, the score is the raw score less the late penalty, and the
    output says how it was computed."""
    limits = sandbox.Limits(call_timeout=float(config.get("call_timeout", sandbox.Limits.call_timeout)))
    isolation = Mode.NONE if config.get("no_sandbox") else None
    try:
        grader = grade.Grader(config["assignment"], limits=limits, hide=hide, isolation=isolation)
    except NoIsolation as e:
        return {"score": 0, "output": f"The autograder refused to run this submission: {e} (for the zip: "
                "`autograder build --no-sandbox`)", "tests": []}
    with grader:
        result = grader.grade(target, name=name)
        if config.get("late_policy") and metadata is not None:
            from .course.late_policy import from_gradescope
            result.late = from_gradescope(config["late_policy"], metadata)
        return results.to_json(result, grader.assignment.manual)


def main() -> int:
    """Grade in a process forked from the workers' template (one torch import for both,
    ``forked_grader``), or in this one where that cannot be done."""
    if forked_grader.wanted():
        code = forked_grader.run("autograder.gradescope:grade_here", [])  # not __name__: "__main__" under -m
        if code is not None:
            return code
    return grade_here([])


def grade_here(argv: list[str]) -> int:
    """Grade the submission in this process and write results.json (always, even on errors)."""
    ag_dir = Path(os.environ.get("AUTOGRADER_DIR", "/autograder"))
    out = ag_dir / "results" / "results.json"
    try:
        config = plugin_config(ag_dir / "source")
        graded = grade_submission(config, ag_dir / "submission", hide=[ag_dir], metadata=read_metadata(ag_dir))
    except sandbox.Stopped:
        return 1
    except Exception as e:  # noqa: BLE001 - Gradescope shows this, not an empty result
        graded = {"score": 0, "output": f"The autograder failed ({type(e).__name__}: {e}); please contact the "
                  "course staff.", "tests": []}
        print(f"autograder: {type(e).__name__}: {e}", file=sys.stderr)
    results.atomic_write(out, json.dumps(graded, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
