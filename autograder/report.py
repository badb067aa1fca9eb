"""What a graded batch gives people, made from its results (``results``): grades.csv, the
pages (``feedback``), progress output while a batch runs and a summary at its end; and
``rebuild``, the same from the results.json files of one or more folders alone
(``autograder report``)."""
import sys
from pathlib import Path

from . import feedback, python_command, similarity, text
from .isolation import Mode
from .results import NO_SANDBOX_NOTE, RESULTS, SubmissionResult, SubmissionStatus, atomic_write, read_folder

GRADEBOOK = "grades.csv"
DRAWER_MEMORY_BYTES = 2 << 30  # address space of the page-drawing process
PAGE_CPU_SECONDS = 60  # CPU time one page may take to draw (about 0.1 s is usual)


def write_gradebook(results, out_dir, assignment):
    """grades.csv: one row per submission, total then one column per task."""
    tasks = list(dict.fromkeys(c.task for c in assignment.checks))
    rows = []
    for r in sorted(results, key=lambda r: r.submission):
        per_task = {t: 0.0 for t in tasks}
        for c in r.checks:
            per_task[c.task] += c.score
        late = r.late
        rows.append([r.submission, r.final_score, r.max_score, r.status, r.score, r.penalty,
                     ";".join(s.id for s in r.students), late.submitted_at if late else "",
                     round(late.late_seconds / 3600, 4) if late else "", late.grace_days if late else ""]
                    + [round(per_task[t], 6) for t in tasks])
    # score: what counts (the raw score less the late penalty); the tasks' columns are raw.
    header = ["submission", "score", "max_score", "status", "raw_score", "late_penalty", "student_ids",
              "submitted_at", "hours_late", "grace_days"] + [f"task_{t}" for t in tasks]
    path = Path(out_dir) / GRADEBOOK
    atomic_write(path, text.csv_text([header, *rows]))  # names a TA opens in a spreadsheet
    return path


def write_page(result: SubmissionResult, out_dir, assignment) -> None:
    """The submission's feedback page; a drawing problem is reported, never fatal (the
    results.json it is drawn from is written already, and ``autograder report`` redraws it)."""
    import traceback
    try:
        feedback.write_student_page(result, out_dir, assignment)
    except OSError as e:  # a full or read-only disk: one line, not a traceback
        print(f"autograder: the page of {text.line(result.submission, 100)} was not written: {e.strerror or e}",
              file=sys.stderr)
    except Exception:  # noqa: BLE001
        traceback.print_exc()


def write_batch(results: list[SubmissionResult], out_dir, assignment, pages: bool = True, diff=None) -> None:
    """What a batch's results make, beside them in ``out_dir``: grades.csv, then (with
    ``pages``) the class summary. Student pages are written as each result is (``write_page``)."""
    import traceback
    write_gradebook(results, out_dir, assignment)
    if pages:
        try:
            feedback.write_class_summary(results, out_dir, assignment, similarity.code_signature(assignment.stub),
                                         diff=diff)
        except Exception:  # noqa: BLE001 - the gradebook is written; a summary bug must not hide it
            traceback.print_exc()


class PageDrawer:
    """Draws student pages in a process of its own while the batch is graded, at a lower
    priority: the grader's threads never wait behind a drawing (it holds no lock of theirs)
    and the workers keep the cores first. ``submit`` a submission once its results.json is
    written (its name goes down a pipe); ``finish`` waits for every page; ``stop`` kills the
    process at once. It ends by itself when the pipe closes (the grader died) and is killed by
    the kernel with the grader; it ignores the Ctrl-C meant for the grader."""

    def __init__(self, out_dir, assignment):
        import json
        import subprocess
        code = "from autograder.report import _drawer_main; _drawer_main()"
        # What a page shows of the declaration, as data: loading the assignment would import
        # its checks, and torch with them, for nothing.
        page_needs = json.dumps({"name": assignment.name, "tasks": assignment.tasks, "manual": assignment.manual})
        self.proc = subprocess.Popen(python_command.running(code, str(out_dir), page_needs),
                                     stdin=subprocess.PIPE, text=True)

    def submit(self, name: str) -> None:
        try:
            self.proc.stdin.write(name + "\n")
            self.proc.stdin.flush()
        except OSError:  # the drawer died: `autograder report` draws what is missing
            pass

    def finish(self) -> None:
        import contextlib
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        self.proc.wait()

    def stop(self) -> None:
        import contextlib
        self.proc.kill()
        self.proc.wait()
        with contextlib.suppress(OSError):
            self.proc.stdin.close()


def _drawer_main() -> None:
    """The drawing process: one submission name per line on stdin, its page drawn from its
    results.json; ends at end of input."""
    import json
    import os
    import resource
    import signal
    import traceback
    from types import SimpleNamespace

    from .results import read
    from .runtime.jail import die_with_parent
    die_with_parent()
    for sig in (signal.SIGINT, signal.SIGHUP):  # sent to the whole terminal group: the grader decides
        signal.signal(sig, signal.SIG_IGN)
    os.nice(10)
    # Pages are drawn from what submissions had a hand in: bounded here whatever it holds.
    resource.setrlimit(resource.RLIMIT_AS, (DRAWER_MEMORY_BYTES,) * 2)

    def too_long(*_):
        raise TimeoutError(f"drawing took more than {PAGE_CPU_SECONDS} s of CPU time")

    signal.signal(signal.SIGPROF, too_long)
    out_dir, assignment = Path(sys.argv[1]), SimpleNamespace(**json.loads(sys.argv[2]))
    for line in sys.stdin:
        try:
            signal.setitimer(signal.ITIMER_PROF, PAGE_CPU_SECONDS)
            feedback.write_student_page(read(out_dir / line.strip() / RESULTS), out_dir, assignment)
        except OSError as e:  # a full or read-only disk: the grader stops and says so
            print(f"autograder: the page of {text.line(line.strip(), 100)} was not written: {e.strerror or e}",
                  file=sys.stderr)
        except Exception:  # noqa: BLE001 - one page's problem is reported; the others are drawn
            traceback.print_exc()
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)


class RebuildError(ValueError):
    """The folders given to ``rebuild`` do not hold one consistent batch (the message says why)."""


def _same_grader(found: list, origin: dict) -> None:
    """Raise RebuildError naming the parts of the grader that differ between results."""
    kinds: dict = {}
    for r in found:
        kinds.setdefault(tuple(sorted(r.grader.items())), []).append(r)
    if len(kinds) < 2:
        return
    groups = sorted(kinds.values(), key=len, reverse=True)
    parts = sorted({k for g in groups for k in g[0].grader} - {k for k in groups[0][0].grader
                   if all(g[0].grader.get(k) == groups[0][0].grader[k] for g in groups)})
    described = "; ".join(f"{len(g)} result(s) such as {g[0].submission} in {origin[g[0].submission]}"
                          for g in groups[:4])
    raise RebuildError(f"results made by different graders cannot be merged: {', '.join(parts)} differ "
                       f"({described}). Grade them again with one grader (`autograder grade --regrade`).")


def rebuild(folders: list, dest=None, submissions=None, diff=None
            ) -> tuple[list[SubmissionResult], list[str], list[str]]:
    """Every student page, the class summary and grades.csv from the results.json files in
    ``folders`` alone (nothing is graded), written to ``dest`` (default: the one folder
    given). With several folders, or a ``dest`` elsewhere, each results.json is copied to
    ``dest`` too, so it holds the whole batch. ``submissions``: the folders (or files) that
    were graded, to name any submission no folder holds a result for. ``diff``: a
    ``regrade_diff.RegradeDiff``, shown in the class summary. Returns the results,
    the files that could not be read and the submissions missing (both listed, not fatal).
    Raises RebuildError, before writing anything, when results of two assignments, two
    results of one submission, or results made by different graders are found."""
    import shutil

    from . import assignments
    folders = [Path(f) for f in folders]
    for f in folders:
        if not f.is_dir():
            raise FileNotFoundError(f"no such folder: {f}")
    dest = Path(dest) if dest is not None else folders[0]
    if dest is None or (len(folders) > 1 and dest in folders):
        raise RebuildError("merging several folders needs --out, a folder of its own")
    found: list = []
    problems: list = []
    origin: dict = {}
    for f in folders:
        rs, bad = read_folder(f)
        problems += bad
        for r in rs:
            if r.submission in origin:
                raise RebuildError(f"submission {r.submission} has results in both {origin[r.submission]} and {f}")
            origin[r.submission] = f
            found.append(r)
    names = sorted({r.assignment for r in found})
    if len(names) > 1:
        raise RebuildError(f"results of different assignments: {', '.join(names)}")
    if not found:
        raise RebuildError(f"no {RESULTS} files in {', '.join(map(str, folders))}"
                           + (f" ({len(problems)} could not be read: {problems[0]})" if problems else ""))
    _same_grader(found, origin)
    assignment = assignments.get(names[0])
    missing = []
    if submissions:
        from . import submission
        graded = {r.submission for r in found}
        missing = [f.name for f in submission.select(assignment, list(submissions)) if f.name not in graded]
    dest.mkdir(parents=True, exist_ok=True)
    for r in found:
        if origin[r.submission].resolve() != dest.resolve():
            (dest / r.submission).mkdir(exist_ok=True)
            shutil.copyfile(origin[r.submission] / r.submission / RESULTS, dest / r.submission / RESULTS)
        feedback.write_student_page(r, dest, assignment)
    write_batch(found, dest, assignment, diff=diff)
    return found, problems, sorted(missing)


class progress:
    """A tqdm bar with the last submission's score; quiet when disabled."""

    def __init__(self, total, enabled=True):
        self.bar = None
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="sub", file=sys.stderr, dynamic_ncols=True)

    def update(self, result):
        if self.bar is not None:
            self.bar.set_postfix_str(f"{text.line(result.submission, 40)}: {result.score:g}/{result.max_score:g} "
                                     f"{result.status}")
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def terminal_reason(result) -> str:
    """Why a submission could not be graded, in the words of its results.json (one printable line)."""
    return text.line(result.messages[0].split("\n")[0] if result.messages else "it did not load", 300)


def print_summary(results, seconds, file=None, resumed=0, listed=20, policy=None, full=True):
    """Counts and wall time; every submission when there are few, otherwise the slowest ones
    and those that did not grade cleanly; then, always (even when not ``full``), every
    submission that could not be graded, with the reason its results.json gives."""
    file = file or sys.stderr  # looked up now: the caller may have redirected it
    if full:
        counts = {s: sum(r.status == s for r in results) for s in SubmissionStatus}
        fresh = len(results) - resumed
        print(f"Graded {fresh} submission(s) in {seconds:.1f} s"
              + (f" ({seconds / fresh:.3f} s each)" if fresh else "")
              + (f", {resumed} kept from an earlier run" if resumed else "")
              + ": " + ", ".join(f"{counts[s]} {s}" for s in SubmissionStatus), file=file)
        if policy is not None:  # what the isolation was, in words
            print(NO_SANDBOX_NOTE if policy.mode is Mode.NONE else f"Isolation: {policy.meaning}.", file=file)

        def line(r):
            late = f", late -{r.penalty:g}" if r.penalty else ""
            print(f"  {text.line(r.submission, 60):30s} {r.final_score:6g} / {r.max_score:g}  {r.status}  "
                  f"({r.seconds:.1f} s{late})", file=file)

        if len(results) <= listed:
            for r in results:
                line(r)
        else:
            print("Slowest:", file=file)
            for r in sorted(results, key=lambda r: -r.seconds)[:5]:
                line(r)
            trouble = [r for r in results if r.status != SubmissionStatus.OK]
            if trouble:
                print(f"Errors and timeouts ({len(trouble)}):", file=file)
                for r in trouble[:listed]:
                    line(r)
                if len(trouble) > listed:
                    print(f"  ... and {len(trouble) - listed} more (see grades.csv)", file=file)
    ungraded = sorted((r for r in results if not r.graded), key=lambda r: r.submission)
    if ungraded:
        print(f"Could not be graded ({len(ungraded)}):", file=file)
        for r in ungraded:
            print(f"  {text.line(r.submission, 100)}: {terminal_reason(r)}", file=file)
