"""Grade submissions: load each in its own sandboxed worker, run every check, record results.

The steps for one submission (``grade_submission``):
  1. start a worker holding a copy of the submission (``sandbox.Worker``);
  2. load it (definitions only or every cell, as the assignment says);
  3. run each check against the loaded worker; a timeout or crash costs that check only:
     the worker is killed, and a fresh one is started and loaded for the checks after it;
  4. turn outcomes into a ``SubmissionResult`` (``report`` writes it out).

A batch (``grade_all``) runs those steps for many submissions at once and can be stopped
with SIGINT, SIGTERM or SIGHUP: every worker is killed at once, what finished stays on disk,
and ``sandbox.Stopped`` reaches the caller (the CLI prints one line and exits 128 + signal).
"""
import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from . import assignments, feedback, reference_answers, replies, report, sandbox, submission, text
from .checks import Reference, Student
from .isolation import Mode, resolve
from .results import CheckResult, SubmissionResult, read_kept
from .results import write as write_result
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


def hidden_paths(out_dir=None):
    """What the worker must not see: the grader's code, references, tests, history, outputs."""
    pkg = Path(__file__).resolve().parent
    git = assignments.REPO / ".git"
    paths = [pkg, assignments.SOLUTIONS, assignments.REPO / "tests", git]
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
    found = set()
    for dist in metadata.distributions(name="dl-autograder"):
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
            checkout = Path(url[len("file://"):]).resolve() if url.startswith("file://") else None
            if checkout is not None and checkout.is_absolute() and checkout / "autograder" != own:
                found.update(checkout / name for name in ("autograder", "solutions", "tests", ".git"))
        with contextlib.suppress(OSError, ValueError, TypeError):
            init = Path(dist.locate_file("autograder/__init__.py"))
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
    def start_worker(self, sub, result, deadline=None, skip=None, without=(), budget=None):
        """Start and load a worker; None (with result updated) when the submission can't load.

        A cell that kills the worker or hangs while loading is skipped and the load retried
        (at most MAX_SKIPPED_CELLS times), so one stray cell does not cost every check.
        ``skip`` (a list) collects those cells across restarts of the same submission.
        ``without``: modules the worker does without (calls made with ``forbid``); ``budget``:
        the submission's reply bytes, shared by all its workers (``replies.Budget``)."""
        skip = [] if skip is None else skip
        files = {**{name: Path(src) for name, src in (self.assignment.support_files or {}).items()}, **sub.files}
        retried = False
        while True:
            worker = sandbox.Worker(sub.main, self.env, self.limits, files=files, without=without, budget=budget)
            worker.deadline, worker.budget_seconds = deadline, self.assignment.time_budget
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
                cell = worker.loading_cell() if e.kind != "refused" else None
                retried = retried or e.kind == "refused"
                worker.close()
                if cell is None and not retried and (deadline is None or time.monotonic() < deadline):
                    # No cell of the submission had started: the worker itself failed or stalled
                    # (a machine under load), so the submission gets one more try.
                    retried = True
                    continue
                why = f"{e} (before any of its cells ran)" if cell is None and e.kind != "refused" else str(e)
                result.status = "timeout" if e.kind == "timeout" else "error"  # even if a retry loads
                if (cell and cell not in skip and len(skip) < MAX_SKIPPED_CELLS
                        and (deadline is None or time.monotonic() < deadline)):
                    skip.append(cell)
                    what = "ran past the load time limit" if e.kind == "timeout" else "ended the process"
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
            result.status = "error"
            result.messages.append(f"The submission could not be read: {loaded['fatal']}")
            return None
        worker.names = loaded["names"]
        for err in loaded["cell_errors"]:
            if f"While loading, {err}" not in result.messages:
                result.messages.append(f"While loading, {err}")
        return worker

    def _run_check(self, loaded, check, sub):
        start = time.monotonic()
        res = CheckResult(check.name, check.task, check.function, check.points, 0.0, check.hidden, "", doc=check.doc)
        session = sandbox.Session(loaded.main, loaded.other)
        try:
            student = Student(session, loaded.main.names, sub.files)
            try:
                check.fn(student, self.ref)
            finally:
                res.cpu, res.figures = session.cpu, student.figures
            res.score, res.output = float(check.points), "Passed."
        except AssertionError as e:
            res.status, res.output = "failed", str(e) or "Failed."
        except sandbox.SandboxError as e:
            res.status = "timeout" if e.kind == "timeout" else "crashed"
            res.output = f"{check.function}: {e}"
        except Exception as e:  # noqa: BLE001 - a grader bug must not lose the other checks
            if self.env.stopped:  # the worker was killed under the check: not a verdict
                raise sandbox.Stopped() from None
            res.status = "failed"
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

    def grade(self, path, fingerprint="", name=None):
        """Grade one submission (file, folder or zip) under ``name`` (default: its file name's
        stem); never raises for anything the submission does: a fault of the grader's own is
        recorded as "could not be graded: internal error", with the traceback on stderr (the
        instructor's log), and the batch goes on. Raises ``sandbox.Stopped`` when grading was
        stopped meanwhile: then the result is not one (its workers were killed under it)."""
        start = time.monotonic()
        name = name or submission.name_of(path)
        try:
            return self._grade(path, fingerprint, name, start)
        except sandbox.Stopped:
            raise
        except Exception as e:  # noqa: BLE001 - the last resort: one submission never ends a batch
            if self.env.stopped:
                raise sandbox.Stopped() from None
            print(f"autograder: internal error while grading {text.line(name)}:", file=sys.stderr)
            traceback.print_exc()
            result = SubmissionResult(name, str(path), fingerprint=fingerprint, isolation=self.env.policy.mode.value,
                                      assignment=self.assignment.name, grader=self.identity, status="error")
            reason = (f"The submission could not be graded: internal error ({type(e).__name__}: "
                      f"{text.line(e, 200)}); the grader's log has the details.")
            result.messages.append(reason)
            result.checks = [CheckResult(c.name, c.task, c.function, c.points, 0.0, c.hidden, reason,
                                         status="crashed", doc=c.doc) for c in self.assignment.checks]
            result.seconds = time.monotonic() - start
            return result

    def _grade(self, path, fingerprint, name, start):
        deadline = start + self.assignment.time_budget  # local: grade() runs in several threads
        # Unpacked zips go in the batch's scratch folder, which goes whatever happens.
        sub = submission.open_submission(path, self.assignment.submission_files, scratch=self.env.root, name=name)
        result = SubmissionResult(sub.name, str(path), fingerprint=fingerprint, isolation=self.env.policy.mode.value,
                                  assignment=self.assignment.name, grader=self.identity)
        loaded = SubmissionWorkers(self, sub, result, deadline)
        if sub.problem:
            result.status = "error"
            result.messages.append(f"The submission could not be graded: {sub.problem}")
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
                    result.status = "timeout"
                if loaded.main is None:
                    reason = result.messages[-1] if result.messages else "the submission did not load"
                    done[i] = CheckResult(check.name, check.task, check.function, check.points, 0.0,
                                          check.hidden, reason.split("\n")[0], status="crashed", doc=check.doc)
                    continue
                done[i] = res = self._run_check(loaded, check, sub)
                if res.status in ("timeout", "crashed"):
                    # The channel may be mid-message or the process gone: start over for the rest.
                    loaded.restart()
        finally:
            loaded.close()
            sub.close()
        result.checks = [done[i] for i in range(len(checks))]
        if self.env.stopped:
            raise sandbox.Stopped()
        if any(c.status == "timeout" for c in result.checks) and result.status == "ok":
            result.status = "timeout"
        result.messages = [text.clean(m, MAX_MESSAGE_CHARS) for m in result.messages[:MAX_MESSAGES]]
        result.seconds = time.monotonic() - start
        return result


class SubmissionWorkers:
    """One submission's loaded workers while it is graded: the main one (``start``), and one
    per set of forbidden modules, started when a call first asks for it (``other``). They share
    the cells skipped while loading and the budget of reply bytes."""

    def __init__(self, grader, sub, result, deadline):
        self.grader, self.sub, self.result, self.deadline = grader, sub, result, deadline
        self.skip = []
        self.budget = replies.Budget()
        self.main = None
        self.others = {}

    def start(self, result=None):
        self.main = self.grader.start_worker(self.sub, result or self.result, self.deadline, self.skip,
                                             budget=self.budget)
        return self.main

    def other(self, without):
        """The loaded worker without the modules ``without`` (``sandbox.Session``)."""
        if without not in self.others:
            aside = SubmissionResult("", "")  # its load notes repeat the main worker's
            worker = self.grader.start_worker(self.sub, aside, self.deadline, self.skip, without, self.budget)
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


def _digest(files) -> str:
    import hashlib
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def grader_identity(assignment, limits, mode: Mode | str = "") -> dict:
    """What decides a grade besides the submission, part by part (so that a merge of shards
    graded differently can say which part differs): the checks (the assignment's folder), the
    rest of the toolkit's code, the reference, the limits, the data set and the isolation."""
    from . import data
    pkg = Path(__file__).resolve().parent
    own = pkg / "assignments" / assignment.name
    code = [f for f in pkg.rglob("*.py") if own not in f.parents]
    return {"checks": _digest(own.rglob("*.py")), "toolkit": _digest(code), "reference": _digest([assignment.solution]),
            "limits": repr(limits), "data": os.environ.get(data.ENV_VAR) or "",
            "isolation": Mode(mode).value if mode else ""}


def grader_version(identity: dict) -> str:
    """One digest of a ``grader_identity``: part of every submission's fingerprint."""
    import hashlib
    import json
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def default_jobs():
    """One worker per core: grading is CPU-bound inside the single-threaded workers."""
    return max(1, len(os.sched_getaffinity(0)))


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class CannotWrite(OSError):
    """The output folder cannot be written (full, read-only, not ours): grading stops; what was
    written is kept, and the same command resumes once the folder can be written."""

    def __init__(self, out_dir, error: OSError):
        why = error.strerror or str(error)
        super().__init__(f"cannot write to {out_dir}: {why}; what was written there is kept, and the same command "
                         "resumes once it can be written")


def check_writable(out_dir) -> None:
    """Make ``out_dir`` and write a file in it, or raise CannotWrite before anything is graded."""
    import tempfile
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir) as f:
            f.write(b"0" * 4096)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise CannotWrite(out_dir, e) from None


class StopSignals:
    """While a batch runs: SIGINT, SIGTERM and SIGHUP raise ``sandbox.Stopped`` in the main
    thread, at once, except inside ``critical()`` (writing a result), which they end instead.
    A second signal while the batch stops is ignored. In another thread: nothing changes."""

    def __init__(self):
        self.active = threading.current_thread() is threading.main_thread()
        self.pending = None
        self.in_critical = False
        self.old = {}

    def _handle(self, signum, _frame):
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        if self.in_critical:
            self.pending = signum
        else:
            raise sandbox.Stopped(signum)

    @contextlib.contextmanager
    def critical(self):
        self.in_critical = True
        try:
            yield
        finally:
            self.in_critical = False
            if self.pending is not None:
                signum, self.pending = self.pending, None
                raise sandbox.Stopped(signum)

    def __enter__(self):
        if self.active:
            self.old = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        return self

    def __exit__(self, *exc):
        for sig, handler in self.old.items():
            signal.signal(sig, handler)


def grade_all(assignment, paths, out_dir, limits=None, progress=True, isolation=None, jobs=None, resume=True,
              pages=True, shard=None):
    """Grade every submission under ``paths`` with ``jobs`` workers at a time; write each
    results.json as soon as it is known, then grades.csv.

    Raises, before writing anything: NoSubmissions when nothing gradable is there,
    ``isolation.NoIsolation`` when student code cannot be isolated and ``isolation`` is not
    ``Mode.NONE``. Raises ``sandbox.Stopped`` (with ``graded`` and ``total`` set) when a signal
    stops the batch: every worker is killed at once and the results finished so far stay.

    With ``resume``, a submission whose results.json in ``out_dir`` was written by the same
    grader for the same files is not graded again: a batch that was stopped or killed picks
    up where it ended. Results files are replaced atomically, so none is ever half-written.
    With ``pages``, each submission's feedback page is written beside its results.json and
    the class summary at the end (``autograder report`` draws them later from the files).
    With ``shard`` = (K, N), only shard K of N is graded (see ``select``) and neither
    grades.csv nor the summary is written: that is the merge's (``report.rebuild``) work.
    """
    out_dir = Path(out_dir)
    start = time.monotonic()
    assignment = assignments.get(assignment) if isinstance(assignment, str) else assignment
    limits = limits or sandbox.Limits()
    with StopSignals() as signals:
        subs = submission.select(assignment, paths, shard)
        policy = resolve(isolation)
        check_writable(out_dir)
        identity = grader_identity(assignment, limits, policy.mode)
        version = grader_version(identity)
        for line in submission.renamed(subs):  # two files, one stem: both graded, each under its own name
            print(f"autograder: {text.line(line)}", file=sys.stderr)
        results, todo = [], []
        for found in subs:
            fp = submission.fingerprint(found.path, version)
            kept = read_kept(out_dir, found.name, fp) if resume else None
            if kept is not None:
                kept.path = str(found.path)
                results.append(kept)
            else:
                todo.append((found.path, fp, found.name))
        resumed = len(results)
        if resumed and progress:
            print(f"Resuming: {resumed} of {len(subs)} submission(s) already graded in {out_dir}", file=sys.stderr)
        # Pages are drawn beside grading, in a process of their own (see report.PageDrawer).
        drawer = report.PageDrawer(out_dir, assignment) if pages and todo else None
        try:
            if todo:  # starting the grader (torch, the reference) is the expensive part
                with Grader(assignment, limits, out_dir, policy.mode, identity=identity) as grader:
                    _grade_batch(grader, todo, out_dir, results, progress, jobs, signals, drawer)
            if drawer is not None:
                drawer.finish()
        except sandbox.Stopped as stop:
            if drawer is not None:  # pages not drawn yet are drawn by the run that resumes
                drawer.stop()
            stop.graded, stop.total = len(results), len(subs)
            raise
        except BaseException:
            if drawer is not None:
                drawer.stop()
            raise
        if pages:  # a kept result's page may be missing (the grader was stopped before it was drawn)
            for kept in results[:resumed]:
                if not (out_dir / kept.submission / feedback.PAGE).exists():
                    report.write_page(kept, out_dir, assignment)
    if shard is None:
        try:
            report.write_batch(results, out_dir, assignment, pages)
        except OSError as e:
            raise CannotWrite(out_dir, e) from None
    report.print_summary(results, time.monotonic() - start, resumed=resumed, policy=policy, full=progress)
    return results


def grade_paths(grader: Grader, paths: list, progress: bool = False, jobs: int | None = None) -> list:
    """Grade the submissions at ``paths`` with the batch engine, writing nothing: the results,
    in the order of ``paths`` (``autograder check`` and ``audit`` use it). Stops as a batch
    does: a signal raises ``sandbox.Stopped`` after killing every worker."""
    results = []
    names = submission.names_for(paths)
    with StopSignals() as signals:
        _grade_batch(grader, [(p, "", names[Path(p)]) for p in paths], None, results, progress, jobs, signals)
    order = {str(p): i for i, p in enumerate(paths)}
    return sorted(results, key=lambda r: order[r.path])


def _grade_batch(grader, todo, out_dir, results, progress, jobs, signals, drawer=None):
    """Grade ``todo`` on a thread pool (threads only wait on worker pipes: student code runs
    in the worker processes), recording each result as it finishes, whatever the order."""
    bar = report.progress(len(todo), enabled=progress)
    pool = ThreadPoolExecutor(max_workers=jobs or default_jobs())
    futures = [pool.submit(grader.grade, *item) for item in todo]
    recorded = set()

    def record(future):
        res = future.result()
        with signals.critical():  # a result on disk is whole
            if out_dir is not None:
                try:
                    res = write_result(res, out_dir, grader.assignment.manual)
                except OSError as e:  # a full or read-only disk: nothing more can be kept
                    raise CannotWrite(out_dir, e) from None
                if drawer is not None:  # after the file it is drawn from
                    drawer.submit(res.submission)
            results.append(res)
            recorded.add(future)
        bar.update(res)

    try:
        for future in as_completed(futures):
            record(future)
    except CannotWrite:
        grader.env.stop()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    except sandbox.Stopped:
        # Order matters: kill the workers first (their threads then end by themselves), then
        # keep what finished before the stop; a thread still computing is not waited for.
        grader.env.stop()
        pool.shutdown(wait=False, cancel_futures=True)
        for future in futures:
            if future not in recorded and future.done() and not future.cancelled() and future.exception() is None:
                with contextlib.suppress(sandbox.Stopped):
                    record(future)
        raise
    else:
        pool.shutdown()
    finally:
        bar.close()
