"""``autograder check NAME`` (``verify_assignment``): an assignment is ready to ship when each of these steps passes.

Steps, in order (each returns the problems it found; an empty list is a pass):
  0. ``coverage``: every task has checks, at least one of them public;
  1. ``stub_in_sync``: the committed stub notebook is what ``autograder stub`` makes now;
  2. ``graded``: with the batch engine, the reference earns every point of every check,
     hidden ones included, and the generated stub earns none, each check failing on its own
     task's ``NotImplementedError``. The stub is graded as generated, not as committed, so
     step 2 holds for what students will get even when step 1 failed;
  3. ``public_answers``: the public checks' answers, recorded from the reference now, replay
     in the handout (the inputs are deterministic), and a built handout in dist/ holds them.
The declaration itself is validated before any step, by ``assignments.get``.
"""
import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import assignments, batch, build, cache_folders, grade, sandbox
from .isolation import Mode, resolve
from .assignments import Assignment

CACHE = assignments.REPO / ".cache" / "reference-run"


@dataclass
class Problem:
    """One thing to fix: which step found it, in which check, what was got, where to fix it."""
    step: str
    check: str
    got: str
    fix: str

    def __str__(self):
        lines = [ln for ln in self.got.strip().split("\n") if ln.strip() and not ln.startswith("```")]
        shown = lines[:MESSAGE_LINES] + ([f"(+{len(lines) - MESSAGE_LINES} more lines)"]
                                         if len(lines) > MESSAGE_LINES else [])
        got = "\n         ".join(shown)  # under the first line, as say_step() indents it
        return f"{self.check + ': ' if self.check else ''}{got}\n         fix: {self.fix}"


MESSAGE_LINES = 6  # of a failure's message: the numbers, the shapes, the first bad element


def rel(path) -> str:
    try:
        return str(Path(path).resolve().relative_to(assignments.REPO))
    except ValueError:
        return str(path)


# -- step 1 -------------------------------------------------------------------------------------

def stub_in_sync(a: Assignment) -> list[Problem]:
    """The committed stub notebook and the support modules beside it are what ``autograder stub``
    writes now."""
    wanted = {a.stub: build.notebook_text(build.stub_notebook(a))}
    for name, src in a.support_files.items():
        wanted[a.stub.parent / name] = Path(src).read_text(encoding="utf-8")
    problems = []
    for path, want in wanted.items():
        if path.is_file() and path.read_text(encoding="utf-8") == want:
            continue
        got = "missing" if not path.is_file() else "differs from what the solution generates"
        if path != a.stub:
            got = "missing" if not path.is_file() else "differs from the toolkit's copy it is written from"
        problems.append(Problem("stub", "", f"{rel(path)} {got}", f"run `autograder stub {a.name}` and commit "
                                f"{rel(a.stub.parent)}/ (edit {rel(a.solution)}, never the stub)"))
    return problems


def coverage(a: Assignment) -> list[Problem]:
    """Every task has checks, and at least one public check: students get local feedback on it
    (a contract or shape check, when its value checks are hidden)."""
    out = []
    for task, fn in a.tasks.items():
        mine = [c for c in a.checks if c.task == task]
        if not mine:
            out.append(Problem("coverage", f"task {task} ({fn})", "has no check",
                               f"{rel(a.folder / 'checks.py')}: add a check of {fn}: "
                               f"@checks.add(task={task!r}, points=...)"))
        elif all(c.hidden for c in mine):
            out.append(Problem("coverage", f"task {task} ({fn})",
                               "has only hidden checks: its grader.check cell would have nothing to run",
                               f"{rel(a.folder / 'checks.py')}: add a public contract or shape check for {fn}"))
    return out


# -- step 2 -------------------------------------------------------------------------------------

def reference_run(a: Assignment, progress: bool = True) -> Path:
    """For an assignment whose submissions hand in files (``submission_files``): a folder
    holding the reference notebook executed top to bottom, as a student runs it, and the files
    it wrote. Cached under .cache/ by the content of the solution and its support files."""
    h = hashlib.sha256(a.solution.read_bytes())
    for name, src in sorted(a.support_files.items()):
        h.update(name.encode() + Path(src).read_bytes())
    # Where another user could write the cache, a run of this process's own (not kept).
    cache = cache_folders.private_folder(CACHE.name, base=CACHE.parent)
    if cache is None:
        import atexit
        cache = Path(tempfile.mkdtemp(prefix="agr-run-"))
        atexit.register(shutil.rmtree, cache, True)
    folder = cache / f"{a.name}-{h.hexdigest()[:16]}"
    if all((folder / f).is_file() for f in (f"{a.name}.ipynb", *a.submission_files)):
        return folder
    import os

    import nbformat
    from nbclient import NotebookClient
    if progress:
        print(f"{a.name}: running the reference notebook to make its {', '.join(a.submission_files)} "
              "(once; cached in .cache/)", file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix=f".{a.name}-", dir=cache))  # renamed into place when complete
    try:
        for name, src in a.support_files.items():
            shutil.copy(src, tmp / name)
        nb = build.solution_notebook(a.solution)
        # The sample, whatever this machine has; plots not shown. Both put back afterwards:
        # this process may execute other notebooks (a TA export) that must show their plots.
        saved = {k: os.environ.pop(k, None) for k in ("MNIST_DIR", "MPLBACKEND")}
        os.environ["MPLBACKEND"] = "Agg"
        try:
            NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp)}}).execute()
        finally:
            os.environ.pop("MPLBACKEND", None)
            os.environ.update({k: v for k, v in saved.items() if v is not None})
        (tmp / f"{a.name}.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def reference_submission(a: Assignment, where: Path, progress: bool = True) -> Path:
    """The reference as a student hands it in: its notebook, and the files it writes."""
    if a.submission_files:
        run = reference_run(a, progress)
        shutil.copytree(run, where / "reference")
        return where / "reference"
    return build.write_solution_notebook(a, where / "reference.ipynb")


def stub_submission(a: Assignment, where: Path) -> Path:
    """The stub as generated now, handed in untouched."""
    path = where / "stub" / f"{a.name}.ipynb" if a.submission_files else where / "stub.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build.notebook_text(build.stub_notebook(a)), encoding="utf-8")
    return path.parent if a.submission_files else path


def fails_on_its_task(a: Assignment, check, output: str) -> bool:
    """Whether a check's output on the stub is its own task's NotImplementedError (or, where
    files are handed in, their absence: the stub hands in none). A method's check may fail on
    its class's constructor instead: ``Net.forward`` cannot run before ``Net.__init__`` does."""
    own = [check.task]
    owner = check.function.split(".")[0] if "." in check.function else None
    own += [task for task, fn in a.tasks.items() if owner and fn == f"{owner}.__init__"]
    return (any(f"NotImplementedError: Task {task}: implement" in output for task in own)
            or bool(a.submission_files) and "missing from the submission" in output)


def judge_reference(a: Assignment, result) -> list[Problem]:
    checks_file = rel(a.folder / "checks.py")
    if not result.graded:
        return [Problem("reference", "", "the reference did not load: " + "; ".join(result.messages),
                        rel(a.solution))]
    out = []
    for c in result.checks:
        if c.score < c.points:
            kind = "hidden" if c.hidden else "public"
            out.append(Problem("reference", f"{c.name} ({kind}, task {c.task}, {c.score:g}/{c.points:g})",
                               f"the reference fails it: {c.output}",
                               f"{checks_file} (the check) or {rel(a.solution)} (the reference)"))
    return out


def judge_stub(a: Assignment, result) -> list[Problem]:
    checks_file = rel(a.folder / "checks.py")
    if not result.graded:
        return [Problem("stub", "", "the generated stub did not load: " + "; ".join(result.messages),
                        f"{rel(a.solution)}: code outside the solution markers must run")]
    by_name = {c.name: c for c in a.checks}
    out = []
    for c in result.checks:
        check = by_name[c.name]
        if c.score > 0:
            out.append(Problem("stub", f"{c.name} (task {c.task})",
                               f"the stub earns {c.score:g} of its {c.points:g} point(s): it passes with "
                               f"{c.function} not implemented", f"{checks_file}: make it test {c.function}"))
        elif not fails_on_its_task(a, check, c.output):
            out.append(Problem("stub", f"{c.name} (task {c.task})",
                               f"on the stub it fails with: {c.output}; expected NotImplementedError: "
                               f"Task {c.task}: implement {c.function}",
                               f"{checks_file} (does it call {c.function}?) or the markers in {rel(a.solution)}"))
    return out


def graded(a: Assignment, isolation: Mode | None = None, progress: bool = True, jobs: int | None = None,
           limits: sandbox.Limits | None = None) -> tuple[list[Problem], dict]:
    """Grade the reference and the stub; the problems and {"reference": result, "stub": result}."""
    with tempfile.TemporaryDirectory(prefix="ag-check-") as scratch:
        tmp = Path(scratch)
        paths = [reference_submission(a, tmp, progress), stub_submission(a, tmp)]
        with grade.Grader(a, limits, isolation=resolve(isolation).mode) as grader:
            ref, stub = batch.grade_paths(grader, paths, progress=False, jobs=jobs)
    return judge_reference(a, ref) + judge_stub(a, stub), {"reference": ref, "stub": stub}


# -- step 3 -------------------------------------------------------------------------------------

def public_answers(a: Assignment, dist: Path | None = None) -> list[Problem]:
    """Record the public checks' answers from the reference, then run every public check as the
    handout does (the notebook's functions against the recorded answers)."""
    import importlib

    from . import public
    checks_file = rel(a.folder / "checks.py")
    ns = grade.load_reference(a)
    out = []
    with tempfile.TemporaryDirectory(prefix="ag-public-") as tmp:
        try:
            public.write_package(a, tmp, ns)
        except ValueError as e:
            return [Problem("public", "", str(e), f"{checks_file} or {rel(a.solution)}")]
        runner = importlib.import_module(public.RUNNER)
        for check in a.checks:
            if check.hidden:
                continue
            try:
                runner.run_check(check.name, ns)
            except AssertionError as e:
                if not (a.submission_files and "missing from the submission" in str(e)):
                    out.append(Problem("public", check.name, f"the reference fails it in the handout: {e}",
                                       checks_file))
            except RuntimeError as e:  # the replay found no recorded answer: inputs not deterministic
                out.append(Problem("public", check.name, str(e),
                                   f"{checks_file}: seed the inputs this check makes (same inputs every run)"))
        fresh = json.loads((Path(tmp) / public.PACKAGE / "recorded.json").read_text())
    shipped = Path(dist or Path(build.DIST) / a.name) / "student" / public.PACKAGE / "recorded.json"
    if shipped.is_file() and json.loads(shipped.read_text()) != fresh:
        out.append(Problem("public", "", f"{shipped} holds answers the reference no longer gives",
                           f"run `autograder build {a.name}` before handing it out"))
    return out


# -- all steps ----------------------------------------------------------------------------------

def verify_assignment(name: str, isolation: Mode | None = None, file=None, progress: bool = True) -> list[Problem]:
    """Run every step on assignment ``name``, printing each step's verdict; all the problems."""
    file = file or sys.stdout
    a = assignments.get(name)  # raises DeclarationError with the field and file
    public_n = sum(1 for c in a.checks if not c.hidden)
    print(f"{a.name}: {len(a.checks)} checks ({public_n} public), {a.total:g} points, "
          f"{len(a.tasks)} tasks", file=file)

    def say_step(what, problems):
        print(f"  {'ok  ' if not problems else 'FAIL'} {what}", file=file)
        for p in problems:
            print(f"       {p}", file=file)
        return problems

    print(f"  ok   declaration ({rel(a.folder / '__init__.py')})", file=file)
    problems = say_step("every task has a public check (students get a grader.check cell)", coverage(a))
    problems += say_step(f"stub in sync with the solution ({rel(a.stub)})", stub_in_sync(a))
    found, results = graded(a, isolation, progress)
    ref, stub = results["reference"], results["stub"]
    problems += say_step(f"reference earns every point: {ref.score:g}/{ref.max_score:g} "
                       f"({rel(a.solution)}, {ref.seconds:.1f} s)", [p for p in found if p.step == "reference"])
    problems += say_step(f"stub earns none, each check failing on its task: {stub.score:g}/{stub.max_score:g}",
                       [p for p in found if p.step == "stub"])
    problems += say_step(f"public checks replay the reference's recorded answers ({public_n} checks)",
                       public_answers(a))
    return problems
