"""Command line: a thin layer over ``grade`` and ``build``; defaults come from those modules."""
import argparse
import sys

from . import assignments, build, grade, sandbox


def _grade(args):
    limits = sandbox.Limits(call_timeout=args.timeout, memory_bytes=args.memory_mb << 20)
    try:
        results = grade.grade_all(args.assignment, args.paths, args.out, limits=limits, progress=not args.quiet,
                                  jobs=args.jobs)
    except FileNotFoundError as e:
        print(f"autograder: {e}", file=sys.stderr)
        return 2
    print(f"Wrote {args.out}/grades.csv and {len(results)} results.json file(s).")
    return 0


def _build(args):
    for name in args.assignment or assignments.NAMES:
        path = build.write_stub(assignments.get(name))
        print(f"wrote {path}")
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
                   help="seconds allowed per call into the submission (default: %(default)s)")
    g.add_argument("--memory-mb", type=int, default=defaults.memory_bytes >> 20,
                   help="address-space limit of a worker in MiB (default: %(default)s)")
    g.add_argument("-j", "--jobs", type=int, default=grade.default_jobs(),
                   help="submissions graded at once (default: the number of cores, %(default)s)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    g.set_defaults(run=_grade)

    b = sub.add_parser("stub", help="regenerate student stub notebooks from the solutions")
    b.add_argument("assignment", nargs="*", choices=[[], *assignments.NAMES], default=None)
    b.set_defaults(run=_build)

    args = p.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
