"""course/course_grades.py: who handed in what and when, decided before grading; bad course
input stops `autograder grade` with exit 2 and a message naming the file and line, before any
student code runs; which of several submissions counts."""
import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest

from autograder import cli, submission
from autograder.course import course_grades
from autograder.course.course_grades import Course
from autograder.course.late_policy import Counts, read_policy
from autograder.course.roster import read_roster
from autograder.results import CheckResult, Lateness, RosterEntry, SubmissionResult

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gradient_descent" / "alice_reference.ipynb"
POLICY = """\
timezone = "UTC"
roster = "roster.csv"
[late_penalty]
fraction = 0.25
[assignments.gradient_descent]
due = 2026-10-02T23:59:00
"""
ROSTER = "id,name,email,submitted_at\ns1,Ada,ada@x.edu,\ns2,Alan,alan@x.edu,2026-10-03T10:00:00\n"


@pytest.fixture
def course_dir(tmp_path):
    (tmp_path / "course.toml").write_text(POLICY)
    (tmp_path / "roster.csv").write_text(ROSTER)
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("s1.ipynb", "s2.ipynb", "nobody.ipynb"):
        shutil.copyfile(EXAMPLE, subs / name)
        stamp = dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC).timestamp()
        os.utime(subs / name, (stamp, stamp))
    return tmp_path


def found(course_dir):
    from autograder import assignments
    return submission.select(assignments.get("gradient_descent"), [course_dir / "subs"])


def test_plan(course_dir):
    course = course_grades.load(course_dir / "course.toml")
    plan = course_grades.plan(course, "gradient_descent", found(course_dir))
    assert {k: [s.id for s in v] for k, v in plan.students.items()} == {"s1": ["s1"], "s2": ["s2"], "nobody": []}
    assert plan.unmatched == {"nobody": "nobody.ipynb matches no student of the roster"}
    assert plan.late["s1"].fraction == 0 and plan.late["s1"].source == "the modification time of s1.ipynb"
    assert plan.late["s2"].fraction == 0.25 and plan.late["s2"].source == "the roster (roster.csv, line 3)"
    assert "nobody" not in plan.late


def test_a_time_in_the_future_is_that_submissions_problem(course_dir):
    """A file's date is whatever its maker chose: a future one makes that submission an error
    (README: the whole path in test_hostile_inputs.py), never the batch's end."""
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).timestamp()
    os.utime(course_dir / "subs" / "s1.ipynb", (future, future))
    plan = course_grades.plan(course_grades.load(course_dir / "course.toml"), "gradient_descent", found(course_dir))
    assert list(plan.problems) == ["s1"] and "s1" not in plan.late
    assert plan.problems["s1"].startswith("its submission time ") and "is in the future" in plan.problems["s1"]
    assert "from the modification time of s1.ipynb" in plan.problems["s1"]
    assert plan.late["s2"].fraction == 0.25


@pytest.mark.parametrize("edit, words", [
    (("roster.csv", "s2,Alan", "s1,Alan"), "roster.csv:3: student id 's1' is already on line 2"),
    (("course.toml", "2026-10-02T23:59:00", '"Oct 2nd"'), "course.toml:6: due: cannot read 'Oct 2nd'"),
    (("roster.csv", "2026-10-03T10:00:00", "tomorrow"), "roster.csv:3: submitted_at 'tomorrow' is not a date"),
    (("course.toml", "[assignments.gradient_descent]", "[assignments.mlp_backprop]"),
     "no [assignments.gradient_descent] table"),
])
def test_bad_course_input_exits_2_before_grading(course_dir, capsys, edit, words):
    path = course_dir / edit[0]
    path.write_text(path.read_text().replace(edit[1], edit[2]))
    out = course_dir / "graded"
    code = cli.main(["grade", "gradient_descent", str(course_dir / "subs"), "--policy", str(course_dir / "course.toml"),
                     "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err, err
    assert not list(out.glob("*/results.json"))


def _result(name, sid, score, submitted, late_seconds=0.0):
    r = SubmissionResult(name, name, graded=True, students=[RosterEntry(sid, sid, f"{sid}@x.edu")],
                         late=Lateness(submitted, "t", "2026-10-02T23:59:00+00:00", late_seconds=late_seconds,
                                       fraction=0.25 if late_seconds else 0.0))
    r.checks.append(CheckResult("c", "1.1", "f", 10.0, score, False, ""))
    return r


@pytest.mark.parametrize("counts, chosen", [(Counts.LAST_ON_TIME, "b"), (Counts.BEST, "a"), (Counts.LAST, "c")])
def test_which_submission_counts(course_dir, counts, chosen):
    policy = read_policy(course_dir / "course.toml")
    object.__setattr__(policy, "counts", counts)
    results = [_result("a", "s1", 9.0, "2026-10-01T10:00:00+00:00"),
               _result("b", "s1", 4.0, "2026-10-02T10:00:00+00:00"),
               _result("c", "s1", 10.0, "2026-10-03T10:00:00+00:00", late_seconds=36000)]  # final 10 - 2.5 = 7.5
    roster = read_roster(course_dir / "roster.csv")
    plan = course_grades.Plan(roster=roster)
    grades = course_grades.decide(Course(policy, roster), plan, "gradient_descent", results, 10.0)
    s1 = next(g for g in grades.grades if g.student.id == "s1")
    assert s1.submission == chosen and sorted(s1.others) == sorted({"a", "b", "c"} - {chosen})
    assert next(g for g in grades.grades if g.student.id == "s2").status == course_grades.Status.MISSING


def test_an_extension_granted_later_keeps_the_checks_and_says_what_changed(course_dir, capsys):
    out = course_dir / "graded"
    args = ["grade", "gradient_descent", str(course_dir / "subs"), "--policy", str(course_dir / "course.toml"),
            "--out", str(out), "-q", "-j", "2"]
    assert cli.main(args) == 0
    first = json.loads((out / "s2" / "results.json").read_text())
    assert first["extra_data"]["late_penalty"] == 0.25 * 27 and first["score"] == 0.75 * 27
    policy = course_dir / "course.toml"
    policy.write_text(policy.read_text() + "[assignments.gradient_descent.extensions]\ns2 = 2026-10-04T00:00:00\n")
    capsys.readouterr()
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    assert "s2: its students or lateness changed (the policy or roster did); checks kept, score 20.25 -> 27" in err
    again = json.loads((out / "s2" / "results.json").read_text())
    assert again["score"] == 27 and again["extra_data"]["late"]["fraction"] == 0
    assert again["tests"] == first["tests"] and again["execution_time"] == first["execution_time"]  # not regraded
    assert "s1:" not in err  # nothing changed for s1
