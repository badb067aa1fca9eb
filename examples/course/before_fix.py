"""HW1's checks as they were before the mid-term fix of the README's "Running a course" walk,
so that the walk's first grading, and the regrade after the fix, can be replayed:

* ``test_fit_BGD_seed_data`` checked only the shape of ``fit_BGD``'s losses, not their values,
  so Carol's batch-size bug (the epoch loss averaged over batch_size) passed it;
* ``test_fit_BGD_short_last_batch`` was worth 1 point; the fix makes it 2.

    python examples/course/before_fix.py grade gradient_descent course/hw1 --policy course/course.toml --out graded/hw1

runs ``autograder`` with gradient_descent's checks so; anything else is as ``autograder``.
"""
import dataclasses
import sys

from autograder import assignments, cli
from autograder.assignments.gradient_descent import checks as gd_checks
from autograder.checking import Caller, Registry, SubmissionCaller, expect_type

FIXED = "gradient_descent"


def test_fit_BGD_seed_data(sub: SubmissionCaller, ref: Caller) -> None:
    """fit_BGD's losses on the handout's data have one value per epoch (the check before the fix)."""
    X, Y = gd_checks.seed_data()
    got = gd_checks._fit(sub, "fit_BGD", X, Y, 0.01, 20, 10)
    expect_type(got, "ndarray", "fit_BGD(..., num_epochs=20)", shape=(20,))


def before_fix(assignment: assignments.Assignment) -> assignments.Assignment:
    """``assignment`` (gradient_descent) with its checks as they were before the fix."""
    checks = []
    for c in assignment.checks:
        if c.name == "test_fit_BGD_seed_data":
            c = dataclasses.replace(c, fn=test_fit_BGD_seed_data)
        elif c.name == "test_fit_BGD_short_last_batch":
            c = dataclasses.replace(c, points=1)
        checks.append(c)
    return dataclasses.replace(assignment, checks=Registry(assignment.name, checks))


def main(argv: list[str]) -> int:
    get = assignments.get

    def patched(name: str) -> assignments.Assignment:
        return before_fix(get(name)) if name == FIXED else get(name)

    assignments.get = patched  # type: ignore[assignment]
    try:
        return cli.main(argv)
    finally:
        assignments.get = get  # type: ignore[assignment]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
