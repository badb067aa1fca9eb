"""Grade one submission: load it in its own sandboxed worker, run every check, record results.

The steps for one submission (``Grader.grade``):
  1. start a worker holding a copy of the submission (``sandbox.Worker``);
  2. load it (definitions only or every cell, as the assignment says);
  3. run each check against the loaded worker; a timeout or crash costs that check only:
     the worker is killed, and a fresh one is started and loaded for the checks after it;
  4. turn outcomes into a ``SubmissionResult`` (``report`` writes it out).

A batch (``batch.grade_all``) runs those steps for many submissions at once and can be stopped
with SIGINT, SIGTERM or SIGHUP: every worker is killed at once, what finished stays on disk,
and ``sandbox.Stopped`` reaches the caller (the CLI prints one line and exits 128 + signal).
"""
import contextlib
import sys
import time
import traceback
from pathlib import Path

from . import assignments, reference_answers, replies, sandbox, submission, text
from .sandbox import ErrorKind
from .checking import Reference, Student
from .identity import grader_identity
from .results import CheckResult, CheckStatus, SubmissionResult, SubmissionStatus
from .runtime import loader


def load_reference(assignment):
    """The reference's definitions, executed in the grader (trusted code). The handout's
    support modules (say ``mnist_data``) are importable, as they are for students."""
    import importlib.util
    import sys
    for filename, src in (assignment.support_files or {}).items():
        name = Path(filename).stem
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, src)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[name] = module
    ns = {"__name__": "__reference__"}
    for number, tree, err in loader.load_program(assignment.solution, "definitions"):
        if err:
            raise SyntaxError(f"reference {assignment.solution} cell {number}: {err}")
        exec(compile(tree, f"<reference cell {number}>", "exec"), ns)
    return ns


def is_checkout(folder: Path) -> bool:
    """Whether ``folder`` (the folder above the toolkit's package) is a copy of this repository
    (its build output, examples, handouts and history beside the package), not an installation
    (site-packages, where the package sits among every other)."""
    return (folder / "pyproject.toml").is_file() and (folder / "autograder").is_dir()


def hidden_paths(out_dir=None):
    """What the worker must not see: the grader's code, references, tests, history, outputs,
    and the whole checkout it runs from (its dist/ holds built zips with the reference's
    answers, its examples/ full solutions)."""
    pkg = Path(__file__).resolve().parent
    git = assignments.REPO / ".git"
    paths = [pkg, assignments.SOLUTIONS, assignments.REPO / "tests", git]
    if is_checkout(assignments.REPO):
        paths.append(assignments.REPO)
    if git.is_file():  # a worktree or submodule: ".git" names the folder holding the history
        with contextlib.suppress(OSError):
            gitdir = (git.parent / git.read_text().partition("gitdir:")[2].strip()).resolve()
            paths.append(gitdir)
            if (gitdir / "commondir").is_file():  # a worktree's: the main repository's .git
                paths.append((gitdir / (gitdir / "commondir").read_text().strip()).resolve())
    paths += other_copies()  # every other copy of the grading material this machine holds
    with contextlib.suppress(OSError):  # made now, so that it is hidden from the first worker on
        reference_answers.cache_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        paths.append(reference_answers.cache_dir())
    if out_dir is not None:
        paths.append(Path(out_dir))
    return paths


def other_copies() -> list[Path]:
    """Checkouts and installs of this toolkit other than the one running: a zip's copy graded
    beside an installed checkout (a container image, a TA's machine) must not leave the other
    one's checks, references and tests readable. Found from the installed distributions'
    records: an editable install's checkout (``direct_url.json``), an install's own folder."""
    import json
    from importlib import metadata
    own = Path(__file__).resolve().parent
    found: set[Path] = set()
    for dist in metadata.distributions(name="dl-autograder"):
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
            checkout = Path(url[len("file://"):]).resolve() if url.startswith("file://") else None
            if checkout is not None and checkout.is_absolute() and checkout / "autograder" != own:
                found.update(checkout / name for name in ("autograder", "solutions", "tests", ".git"))
                found.add(checkout)
        with contextlib.suppress(OSError, ValueError, TypeError):
            init = Path(str(dist.locate_file("autograder/__init__.py")))
            if init.is_file() and init.resolve().parent != own:
                found.add(init.resolve().parent)
    return sorted(found)


MAX_SKIPPED_CELLS = 3
MAX_OUTPUT_CHARS = 8000  # of a check's message: a student's exception text can be megabytes
MAX_MESSAGE_CHARS = 4000  # of a note about loading
MAX_MESSAGES = 60


class Grader:
    """Grades submissions of one assignment; holds what all submissions share.
    ``isolation``: a mode or None for the strongest available (``isolation.resolve``; raises
    NoIsolation rather than grade unconfined, unless given ``Mode.NONE``)."""

    def __init__(self, assignment, limits=None, out_dir=None, isolation=None, hide=(), identity=None):
        import torch
        # Start the worker template first: it imports torch while the grader does the same.
        self.env = sandbox.Environment.create(hide=hidden_paths(out_dir) + list(hide), isolation=isolation)
        try:
            torch.set_num_threads(1)  # the same arithmetic as in the single-threaded workers
            self.assignment = assignments.get(assignment) if isinstance(assignment, str) else assignment
            self.limits = limits or sandbox.Limits()
            # ``identity``: grader_identity's, when the caller computed it already (once per batch)
            self.identity = identity or grader_identity(self.assignment, self.limits, self.env.policy.mode)
            self.answers_key = reference_answers.answers_key(self.identity)
            self.ref = Reference(load=self._load_reference,
                                 answers=reference_answers.load(self.assignment, self.answers_key))
            # Kept by definitions-only loading however they are bound (``accuracy = lambda ...``).
            self.graded_names = sorted({fn.split(".")[0] for fn in self.assignment.tasks.values()})
        except BaseException:
            self.env.close()
            raise

    def _load_reference(self):
        """The reference, loaded when a check first asks what no recorded answer says."""
        import torch

        from .runtime import worker
        worker.warm_up(torch)  # torch's lazy imports (optimizers), paid before the reference trains
        return load_reference(self.assignment)

    def close(self):
        self.env.close()
        if self.ref.computed:  # the next cold grader reads them instead of running the reference
            reference_answers.save(self.assignment, self.answers_key, self.ref.answers())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- steps ---------------------------------------------------------------------------------
    def start_worker(self, handed_in, result, deadline=None, skip=None, without=(), budget=None):
        """Start and load a worker; None (with result updated) when the submission can't load.

        A cell that kills the worker or hangs while loading is skipped and the load retried
        (at most MAX_SKIPPED_CELLS times), so one stray cell does not cost every check.
        ``skip`` (a list) collects those cells across restarts of the same submission.
        ``without``: modules the worker does without (calls made with ``forbid``); ``budget``:
        the submission's reply bytes, shared by all its workers (``replies.Budget``)."""
        skip = [] if skip is None else skip
        files = {**{name: Path(src) for name, src in (self.assignment.support_files or {}).items()}, **handed_in.files}
        retried = False
        while True:
            worker = sandbox.Worker(handed_in.main, self.env, self.limits, files=files, without=without, budget=budget,
                                    deadline=deadline, budget_seconds=self.assignment.time_budget)
            try:
                worker.start()
                # The signature is the main worker's; another one's would be the same, computed again.
                loaded = worker.load(self.assignment.load_mode, skip, self.graded_names, sign=not without)
                break
            except sandbox.SandboxError as e:
                if worker.signature and not result.signature:
                    result.signature = worker.signature
                tail = text.clean(worker.output_tail(300).strip(), 300)
                # A refused reply was written by the submission's own code, on purpose; which cell
                # wrote it is not known (the worker went on loading meanwhile): no cell is skipped.
                cell = worker.loading_cell() if e.kind != ErrorKind.REFUSED else None
                retried = retried or e.kind == ErrorKind.REFUSED
                worker.close()
                if cell is None and not retried and (deadline is None or time.monotonic() < deadline):
                    # No cell of the submission had started: the worker itself failed or stalled
                    # (a machine under load), so the submission gets one more try.
                    retried = True
                    continue
                why = f"{e} (before any of its cells ran)" if cell is None and e.kind != ErrorKind.REFUSED else str(e)
                # even if a retry loads
                result.status = SubmissionStatus.TIMEOUT if e.kind == ErrorKind.TIMEOUT else SubmissionStatus.ERROR
                if (cell and cell not in skip and len(skip) < MAX_SKIPPED_CELLS
                        and (deadline is None or time.monotonic() < deadline)):
                    skip.append(cell)
                    what = "ran past the load time limit" if e.kind == ErrorKind.TIMEOUT else "ended the process"
                    result.messages.append(f"While loading, cell {cell} {what} ({why}); it was skipped so "
                                           "the rest of the submission could be graded.")
                    continue
                result.messages.append(f"Loading the submission failed: {why}"
                                       + (f"\nLast output:\n{tail}" if tail else ""))
                return None
        if not result.signature:
            result.signature = loaded["signature"]
        if loaded["fatal"]:
            worker.close()
            result.status = SubmissionStatus.ERROR
            result.messages.append(f"The submission could not be read: {loaded['fatal']}")
            return None
        for err in loaded["cell_errors"]:
            if f"While loading, {err}" not in result.messages:
                result.messages.append(f"While loading, {err}")
        return worker

    def _run_check(self, loaded, check, handed_in):
        start = time.monotonic()
        res = CheckResult(check.name, check.task, check.function, check.points, 0.0, check.hidden, "", doc=check.doc)
        session = sandbox.Session(loaded.main, loaded.other)
        try:
            student = Student(session, loaded.main.names, handed_in.files)
            try:
                check.fn(student, self.ref)
            finally:
                res.cpu, res.figures = session.cpu, student.figures
            res.score, res.output = float(check.points), "Passed."
        except AssertionError as e:
            res.status, res.output = CheckStatus.FAILED, str(e) or "Failed."
        except sandbox.SandboxError as e:
            res.status = CheckStatus.TIMEOUT if e.kind == ErrorKind.TIMEOUT else CheckStatus.CRASHED
            res.output = f"{check.function}: {e}"
        except Exception as e:  # noqa: BLE001 - a grader bug must not lose the other checks
            if self.env.stopped:  # the worker was killed under the check: not a verdict
                raise sandbox.Stopped() from None
            res.status = CheckStatus.FAILED
            if session.values:
                # The check choked on what the submission returned (a list where an array was
                # due, a tuple of the wrong length): ``autograder check`` proves it passes on the
                # reference's values, so the value is what differs. The student's mistake.
                res.output = (f"{check.function}: the check could not use what the submission returned "
                              f"({type(e).__name__}: {e}); compare its type and shape with the docstring.")
            else:
                res.output = f"Internal grader error in {check.name} ({type(e).__name__}: {e}); please report it."
                traceback.print_exc()
        res.output = text.clean(res.output, MAX_OUTPUT_CHARS)
        res.seconds = time.monotonic() - start
        return res

    def grade(self, path, fingerprint="", name=None, problem=""):
        """Grade one submission (file, folder or zip) under ``name`` (default: its file name's
        stem), or, with ``problem`` (why it cannot be, known before it is opened), record it as
        not gradable; never raises for anything the submission does: a fault of the grader's own is
        recorded as "could not be graded: internal error", with the traceback on stderr (the
        instructor's log), and the batch goes on. Raises ``sandbox.Stopped`` when grading was
        stopped meanwhile: then the result is not one (its workers were killed under it)."""
        start = time.monotonic()
        name = name or submission.name_of(path)
        try:
            return self._grade(path, fingerprint, name, start, problem)
        except sandbox.Stopped:
            raise
        except Exception as e:  # noqa: BLE001 - the last resort: one submission never ends a batch
            if self.env.stopped:
                raise sandbox.Stopped() from None
            print(f"autograder: internal error while grading {text.line(name)}:", file=sys.stderr)
            traceback.print_exc()
            result = SubmissionResult(name, str(path), fingerprint=fingerprint, isolation=self.env.policy.mode.value,
                                      assignment=self.assignment.name, grader=self.identity,
                                      status=SubmissionStatus.ERROR)
            reason = (f"The submission could not be graded: internal error ({type(e).__name__}: "
                      f"{text.line(e, 200)}); the grader's log has the details.")
            result.messages.append(reason)
            result.checks = [CheckResult(c.name, c.task, c.function, c.points, 0.0, c.hidden, reason,
                                         status=CheckStatus.CRASHED, doc=c.doc) for c in self.assignment.checks]
            result.seconds = time.monotonic() - start
            return result

    def _grade(self, path, fingerprint, name, start, problem=""):
        deadline = start + self.assignment.time_budget  # local: grade() runs in several threads
        # Unpacked zips go in the batch's scratch folder, which goes whatever happens.
        handed_in = (submission.Submission(name, Path(path), problem=problem) if problem else
                     submission.open_submission(path, self.assignment.submission_files, scratch=self.env.root,
                                                name=name))
        result = SubmissionResult(handed_in.name, str(path), fingerprint=fingerprint,
                                  isolation=self.env.policy.mode.value, assignment=self.assignment.name,
                                  grader=self.identity)
        loaded = SubmissionWorkers(self, handed_in, result, deadline)
        if handed_in.problem:
            result.status = SubmissionStatus.ERROR
            result.messages.append(f"The submission could not be graded: {handed_in.problem}")
        else:
            loaded.start()
        result.graded = loaded.main is not None
        # Visible checks first: what a hidden check's calls showed the submission (its inputs)
        # cannot reach a visible check's message, which students see before grades are published.
        checks = list(self.assignment.checks)
        order = sorted(range(len(checks)), key=lambda i: checks[i].hidden)
        done = {}
        try:
            for i in order:
                check = checks[i]
                if self.env.stopped:
                    raise sandbox.Stopped()
                if loaded.main is not None and time.monotonic() >= deadline:
                    loaded.close()
                    result.messages.append(f"Checks not run: the submission used up its time budget of "
                                           f"{self.assignment.time_budget:.0f} s.")
                    result.status = SubmissionStatus.TIMEOUT
                if loaded.main is None:
                    reason = result.messages[-1] if result.messages else "the submission did not load"
                    done[i] = CheckResult(check.name, check.task, check.function, check.points, 0.0,
                                          check.hidden, reason.split("\n")[0], status=CheckStatus.CRASHED,
                                          doc=check.doc)
                    continue
                done[i] = res = self._run_check(loaded, check, handed_in)
                if res.status in (CheckStatus.TIMEOUT, CheckStatus.CRASHED):
                    # The channel may be mid-message or the process gone: start over for the rest.
                    loaded.restart()
        finally:
            loaded.close()
            handed_in.close()
        result.checks = [done[i] for i in range(len(checks))]
        if self.env.stopped:
            raise sandbox.Stopped()
        if any(c.status == CheckStatus.TIMEOUT for c in result.checks) and result.status == SubmissionStatus.OK:
            result.status = SubmissionStatus.TIMEOUT
        result.messages = [text.clean(m, MAX_MESSAGE_CHARS) for m in result.messages[:MAX_MESSAGES]]
        result.seconds = time.monotonic() - start
        return result


class SubmissionWorkers:
    """One submission's loaded workers while it is graded: the main one (``start``), and one
    per set of forbidden modules, started when a call first asks for it (``other``). They share
    the cells skipped while loading and the budget of reply bytes."""

    def __init__(self, grader, handed_in, result, deadline):
        self.grader, self.handed_in, self.result, self.deadline = grader, handed_in, result, deadline
        self.skip = []
        self.budget = replies.Budget()
        self.main = None
        self.others = {}

    def start(self, result=None):
        self.main = self.grader.start_worker(self.handed_in, result or self.result, self.deadline, self.skip,
                                             budget=self.budget)
        return self.main

    def other(self, without):
        """The loaded worker without the modules ``without`` (``sandbox.Session``)."""
        if without not in self.others:
            aside = SubmissionResult("", "")  # its load notes repeat the main worker's
            worker = self.grader.start_worker(self.handed_in, aside, self.deadline, self.skip, without, self.budget)
            if worker is None:
                why = aside.messages[-1].split("\n")[0] if aside.messages else "it did not load"
                raise sandbox.SandboxError(f"the submission could not be loaded without {', '.join(without)}: {why}")
            self.others[without] = worker
        return self.others[without]

    def restart(self):
        """After a crash or timeout: fresh workers for the checks after it."""
        self.close()
        aside = SubmissionResult("", "")
        if self.start(aside) is None:
            self.result.messages += aside.messages

    def close(self):
        for worker in [self.main, *self.others.values()]:
            if worker is not None:
                worker.close()
        self.main, self.others = None, {}
