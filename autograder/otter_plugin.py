"""The otter-grader plugin that makes an otter autograder zip grade with this toolkit's engine.

otter runs plugins in its own process, before and after it executes the notebook in a Jupyter
kernel. This plugin:
  * ``before_execution``: grades the submission with ``grade.Grader`` (each submission in a
    sandboxed worker, checks in this process) and then hands otter an empty notebook, so no
    student code ever runs in otter's kernel or process (where it could patch otter, read the
    zip's files or kill the kernel);
  * ``after_grading``: replaces otter's results with ours, and makes otter write our
    Gradescope results.json (per-check entries, per-check visibility, top-level score).
Registered in otter_config.json as {"autograder.otter_plugin.EnginePlugin": {"assignment": NAME,
"call_timeout": SECONDS (optional), "no_sandbox": true (optional, ``autograder build --no-sandbox``)}}.
Where the machine cannot isolate student code and ``no_sandbox`` is not set, no student code
runs: the submission gets 0 and a message saying why.
"""
from pathlib import Path

from otter.plugins import AbstractOtterPlugin

from . import grade, results, sandbox
from .isolation import Mode, NoIsolation


class FixedResults:
    """Stands in for ``GradingResults.to_gradescope_dict``: returns our results.json."""

    def __init__(self, output):
        self.output = output

    def __call__(self, ag_config=None):
        return self.output


class EnginePlugin(AbstractOtterPlugin):
    """Grade with the toolkit's isolated engine instead of otter's in-kernel tests."""

    def _grade(self):
        name = self.plugin_config["assignment"]
        notebook = Path(self.submission_path).resolve()
        ag_dir = notebook.parent.parent  # otter's autograder/{source,submission,results}
        limits = sandbox.Limits(call_timeout=float(self.plugin_config.get("call_timeout", sandbox.Limits.call_timeout)))
        isolation = Mode.NONE if self.plugin_config.get("no_sandbox") else None
        try:
            grader = grade.Grader(name, limits=limits, hide=[ag_dir], isolation=isolation)
        except NoIsolation as e:
            return {"score": 0, "output": f"The autograder refused to run this submission: {e} (for the zip: "
                    "`autograder build --no-sandbox`)", "tests": []}
        with grader:
            target = notebook.parent if grader.assignment.submission_files else notebook
            result = grader.grade(target)
            result.submission = notebook.stem
            return results.to_json(result, grader.assignment.manual)

    def before_execution(self, submission):
        self.output = self._grade()
        submission.cells = []  # nothing of the student's runs in otter's kernel
        return submission

    def after_grading(self, results):
        output = getattr(self, "output", None) or {
            "score": 0, "output": "The autograder could not grade this submission.", "tests": []}
        results.clear_results()
        results._catastrophic_error = None
        results.set_output(output["output"])
        results.to_gradescope_dict = FixedResults(output)
