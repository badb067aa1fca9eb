"""The otter-grader plugin that makes an otter autograder zip grade with this toolkit's engine.

The zip's run_autograder does without otter's run (``gradescope.py``: the same grading and the
same results, about two seconds of CPU sooner); this plugin is what ``otter run -a
autograder.zip`` uses. otter runs plugins in its own process, before and after it executes the notebook in a Jupyter
kernel. This plugin:
  * ``before_grading``: removes the submission's ``.OTTER_LOG`` (otter's log of the student's
    checks, a dill pickle that otter unpickles whenever the file exists, right after this
    hook): a crafted one would run its code in otter's process, as the grader's user;
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
import os
import shutil
from pathlib import Path

from otter.plugins import AbstractOtterPlugin

from . import assignments, gradescope


def grade_config_wants_folder(config: dict) -> bool:
    """A submission with files beside its notebook is graded as the folder holding them."""
    return bool(assignments.get(config["assignment"]).submission_files)


class FixedResults:
    """Stands in for ``GradingResults.to_gradescope_dict``: returns our results.json."""

    def __init__(self, output):
        self.output = output

    def __call__(self, ag_config=None):
        return self.output


def remove_otter_log(folder: Path) -> bool:
    """Remove ``folder/.OTTER_LOG`` whatever it is (a link is removed, never followed); whether
    there was one. A log that cannot be removed stops the run: otter would unpickle it."""
    from otter.check.notebook import OTTER_LOG_FILENAME
    log = folder / OTTER_LOG_FILENAME
    if not os.path.lexists(log):
        return False
    if log.is_dir() and not log.is_symlink():
        shutil.rmtree(log)
    else:
        log.unlink()
    return True


class EnginePlugin(AbstractOtterPlugin):
    """Grade with the toolkit's isolated engine instead of otter's in-kernel tests."""

    def before_grading(self, config):
        # otter runs this hook in the submission's folder, before it reads the log from there.
        remove_otter_log(Path(self.submission_path).resolve().parent)

    def _grade(self):
        notebook = Path(self.submission_path).resolve()
        ag_dir = notebook.parent.parent  # otter's autograder/{source,submission,results}
        config = self.plugin_config
        target = notebook.parent if grade_config_wants_folder(config) else notebook
        return gradescope.grade_submission(config, target, hide=[ag_dir], name=notebook.stem,
                                           metadata=gradescope.read_metadata(ag_dir))

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
