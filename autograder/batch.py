"""A batch: every submission under some paths graded by one ``grade.Grader`` on a pool of
threads (each waits on its worker's pipes), each results.json written as soon as it is known,
then grades.csv; what an earlier run graded with the same grader and files is kept (resume);
SIGINT, SIGTERM and SIGHUP stop it at once, keeping every finished result (``StopSignals``)."""
import contextlib
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from . import assignments, feedback, report, sandbox, submission, text
from .course import course_grades
from .grade import Grader
from .identity import grader_identity, grader_version
from .isolation import resolve
from .results import RESULTS
from .results import read as read_result
from .results import write as write_result


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


class WouldReplace(ValueError):
    """Results in the output folder were made by another grader (a check changed) or from other
    files: nothing is graded over them without ``--regrade`` (the message says what to do)."""

    def __init__(self, out_dir, names: list[str]):
        listed = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        super().__init__(f"{len(names)} submission(s) in {out_dir} were graded before by another grader (its checks or "
                         f"limits changed) or from other files: {listed}. Nothing was graded. To see what a fixed "
                         f"check changes, grade into a new folder and compare (`autograder report NEW --compare "
                         f"{out_dir}`); to grade them again here, replacing their results, add --regrade.")


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
              pages=True, shard=None, course=None, problems=None, inputs=()):
    """Grade every submission under ``paths`` with ``jobs`` workers at a time; write each
    results.json as soon as it is known, then grades.csv.

    Raises, before writing anything: NoSubmissions when nothing gradable is there,
    ``isolation.NoIsolation`` when student code cannot be isolated and ``isolation`` is not
    ``Mode.NONE``. Raises ``sandbox.Stopped`` (with ``graded`` and ``total`` set) when a signal
    stops the batch: every worker is killed at once and the results finished so far stay.

    With ``resume``, a submission whose results.json in ``out_dir`` was written by the same
    grader for the same files is not graded again: a batch that was stopped or killed picks
    up where it ended; one written by another grader or for other files raises
    WouldReplace before anything is graded (``resume=False``, ``--regrade``, grades all again),
    unless it is no grade (the submission could not be graded then): that one is graded again.
    Results files are replaced atomically, so none is ever half-written.
    With ``pages``, each submission's feedback page is written beside its results.json and
    the class summary at the end (``autograder report`` draws them later from the files).
    With ``shard`` = (K, N), only shard K of N is graded (see ``select``) and neither
    grades.csv nor the summary is written: that is the merge's (``report.rebuild``) work.
    ``problems``: {path: why} for submissions known not to be gradable (an upload of an export
    over a submission's limits): each gets an error row; so does one whose time, by the course's
    record, is in the future. The rest of the batch is graded.
    Every input of the batch (``paths``, each submission found, the course's files and the
    other ``inputs`` a caller read, say the export zips it unpacked) is hidden from every worker,
    as the checks are: no submission reads another's files or the roster.
    """
    out_dir = Path(out_dir)
    start = time.monotonic()
    assignment = assignments.get(assignment) if isinstance(assignment, str) else assignment
    limits = limits or sandbox.Limits()
    with StopSignals() as signals:
        subs = submission.select(assignment, paths, shard, problems)
        policy = resolve(isolation)
        check_writable(out_dir)
        identity = grader_identity(assignment, limits, policy.mode)
        version = grader_version(identity)
        planned = course_grades.plan(course, assignment.name, subs) if course is not None else None
        for line in submission.renamed(subs):  # two files, one stem: both graded, each under its own name
            print(f"autograder: {text.line(line)}", file=sys.stderr)
        results, todo, replaced = [], [], []
        for found in subs:
            problem = found.problem or (planned.problems.get(found.name, "") if planned is not None else "")
            fp = submission.fingerprint(found.path, version, *([problem] if problem else []))
            earlier = _earlier_result(out_dir, found.name) if resume else None
            kept = earlier if earlier is not None and earlier.fingerprint == fp else None
            if kept is not None:
                kept.path = str(found.path)
                before = kept.final_score
                if planned is not None and _with_course(kept, planned):  # a new extension, a roster fix
                    print(f"autograder: {text.line(found.name, 100)}: its students or lateness changed "
                          f"(the policy or roster did); checks kept, score {before:g} -> {kept.final_score:g}",
                          file=sys.stderr)
                    kept = write_result(kept, out_dir, assignment.manual)
                    if pages:
                        report.write_page(kept, out_dir, assignment)
                results.append(kept)
            else:
                todo.append((found.path, fp, found.name, problem))
                if earlier is not None and earlier.graded:  # by another grader, or for other files
                    replaced.append(found.name)
        if replaced:
            raise WouldReplace(out_dir, replaced)
        resumed = len(results)
        if resumed and progress:
            print(f"Resuming: {resumed} of {len(subs)} submission(s) already graded in {out_dir}", file=sys.stderr)
        # Pages are drawn beside grading, in a process of their own (see report.PageDrawer).
        drawer = report.PageDrawer(out_dir, assignment) if pages and todo else None
        try:
            if todo:  # starting the grader (torch, the reference) is the expensive part
                batch_inputs = [*paths, *inputs, *(f.path for f in subs), *(course.files() if course else [])]
                with Grader(assignment, limits, out_dir, policy.mode, hide=batch_inputs, identity=identity) as grader:
                    _grade_batch(grader, todo, out_dir, results, progress, jobs, signals, drawer, planned)
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
            if planned is not None:
                grades = course_grades.decide(course, planned, assignment.name, results, assignment.total)
                course_grades.write(grades, out_dir)
        except OSError as e:
            raise CannotWrite(out_dir, e) from None
    report.print_summary(results, time.monotonic() - start, resumed=resumed, policy=policy, full=progress)
    if planned is not None and shard is None:
        ledger = course.policy.grace_ledger if course.policy and course.policy.grace_days else None
        for line in course_grades.summary_lines(grades, ledger):
            print(text.line(line, 4000), file=sys.stderr)
    return results


def _earlier_result(out_dir, name):
    """The result of ``name`` an earlier run wrote in ``out_dir`` (by whatever grader), or None
    where there is none that reads as one (missing, damaged, of another format: graded anew)."""
    try:
        return read_result(Path(out_dir) / name / RESULTS)
    except (OSError, ValueError):
        return None


def _with_course(result, planned) -> bool:
    """Give ``result`` the students and lateness ``planned`` for it; whether they changed."""
    students, late = planned.students.get(result.submission, []), planned.late.get(result.submission)
    changed = (result.students, result.late) != (students, late)
    result.students, result.late = students, late
    return changed


def grade_paths(grader: Grader, paths: list, progress: bool = False, jobs: int | None = None) -> list:
    """Grade the submissions at ``paths`` with the batch engine, writing nothing: the results,
    in the order of ``paths`` (``autograder check`` and ``audit`` use it). Stops as a batch
    does: a signal raises ``sandbox.Stopped`` after killing every worker."""
    results: list = []
    names = submission.names_for(paths)
    with StopSignals() as signals:
        _grade_batch(grader, [(p, "", names[Path(p)], "") for p in paths], None, results, progress, jobs, signals)
    order = {str(p): i for i, p in enumerate(paths)}
    return sorted(results, key=lambda r: order[r.path])


def _grade_batch(grader, todo, out_dir, results, progress, jobs, signals, drawer=None, planned=None):
    """Grade ``todo`` on a thread pool (threads only wait on worker pipes: student code runs
    in the worker processes), recording each result as it finishes, whatever the order."""
    bar = report.progress(len(todo), enabled=progress)
    pool = ThreadPoolExecutor(max_workers=jobs or default_jobs())
    futures = [pool.submit(grader.grade, *item) for item in todo]
    recorded = set()

    def record(future):
        res = future.result()
        if planned is not None:
            _with_course(res, planned)
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
