"""The assignments this toolkit grades, each a subpackage declaring its tasks and checks.

An assignment subpackage defines:
  NAME       the assignment's name (also its folder in solutions/ and assignments/)
  TASKS      {task id: graded function name}, in notebook order (used to write the stub)
  MANUAL     {question id: what it asks}, graded by hand, never auto-scored
  LOAD_MODE  "definitions" (imports, functions, classes, the constants they read) or "all"
  checks     a ``checks.Registry`` (in its ``checks`` module)
and optionally:
  SUBMISSION_FILES  files a submission hands in beside its notebook (it is then a folder or zip)
  SUPPORT_FILES     {module file name in the handout: source path}, importable by the notebook
  TIME_BUDGET       seconds one submission may take in all (default 300)
"""
import importlib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
HANDOUTS = REPO / "assignments"
NAMES = ("gradient_descent", "mlp_backprop", "mnist_study")


@dataclass
class Assignment:
    name: str
    tasks: dict
    manual: dict
    load_mode: str
    checks: object
    submission_files: tuple = ()
    support_files: dict = None
    time_budget: float = 300.0

    @property
    def solution(self):
        return SOLUTIONS / self.name / f"{self.name}.py"

    @property
    def stub(self):
        return HANDOUTS / self.name / f"{self.name}.ipynb"

    @property
    def total(self):
        return self.checks.total


def get(name):
    if name not in NAMES:
        raise KeyError(f"unknown assignment {name!r}; known: {', '.join(NAMES)}")
    pkg = importlib.import_module(f"{__name__}.{name}")
    checks = importlib.import_module(f"{__name__}.{name}.checks").checks
    return Assignment(pkg.NAME, pkg.TASKS, pkg.MANUAL, pkg.LOAD_MODE, checks,
                      tuple(getattr(pkg, "SUBMISSION_FILES", ())), dict(getattr(pkg, "SUPPORT_FILES", {})),
                      float(getattr(pkg, "TIME_BUDGET", 300.0)))
