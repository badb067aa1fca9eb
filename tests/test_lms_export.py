"""course/lms_export.py: each file against the columns and format its system documents, value by
value: Canvas's gradebook import, Moodle's grade import, the plain CSV."""
import csv

import pytest

from autograder.course import lms_export
from autograder.course.course_grades import CourseError, CourseGrades, Status, StudentGrade
from autograder.course.lms_export import Format
from autograder.results import Lateness, RosterEntry

ADA = RosterEntry("s01", "Ada Lovelace", "ada@example.edu", "A", "ada", "901")
ALAN = RosterEntry("s02", "Alan Turing, Jr.", "alan@example.edu", "B")
GRACE = RosterEntry("s03", "Grace Hopper", "grace@example.edu", "A")
LATE = Lateness("2026-10-03T05:00:00+00:00", "file", "2026-10-02T03:59:00+00:00", late_seconds=90000.0, grace_days=1,
                fraction=0.1, how="submitted ..., 1 day late x 10%")


def course():
    hw1 = CourseGrades("gradient_descent", "HW1: Gradient descent", "4101", 27.0, [
        StudentGrade(ADA, Status.GRADED, "s01", 27.0, 0.0, 27.0),
        StudentGrade(ALAN, Status.GRADED, "s02", 22.0, 2.2, 19.8, LATE),
        StudentGrade(GRACE, Status.MISSING)], {})
    hw2 = CourseGrades("mlp_backprop", "HW2", "", 3.0, [
        StudentGrade(ADA, Status.GRADED, "s01", 1.0 / 3, 0.0, 1.0 / 3),
        StudentGrade(ALAN, Status.UNGRADED, "s02", 0.0, 0.0, 0.0),
        StudentGrade(GRACE, Status.GRADED, "s03", 3.0, 0.0, 3.0)], {})
    return [hw1, hw2]


def read(path):
    raw = path.read_bytes()
    assert raw.decode("utf-8") and b"\r\n" in raw  # UTF-8, the CSV standard's line ends
    return list(csv.reader(raw.decode().splitlines()))


def test_canvas(tmp_path):
    rows = read(lms_export.write(course(), Format.CANVAS, tmp_path / "canvas.csv"))
    # Canvas: Student, ID, SIS User ID, SIS Login ID, Section, then "Assignment (id)" columns;
    # the row under the header gives the points possible.
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW1: Gradient descent (4101)", "HW2"]
    assert rows[1] == ["Points Possible", "", "", "", "", "27", "3"]
    assert rows[2:] == [["Ada Lovelace", "901", "s01", "ada", "A", "27", "0.3333"],
                        ["Alan Turing, Jr.", "", "s02", "", "B", "19.8", "0"],
                        ["Grace Hopper", "", "s03", "", "A", "", "3"]]
    zero = read(lms_export.write(course(), Format.CANVAS, tmp_path / "z.csv", missing_as_zero=True))
    assert zero[4][5] == "0"


def test_moodle(tmp_path):
    rows = read(lms_export.write(course(), Format.MOODLE, tmp_path / "moodle.csv"))
    # Moodle maps users by "Email address" or "ID number"; a column per grade item, '.' decimals.
    assert rows[0] == ["Full name", "ID number", "Email address", "HW1: Gradient descent", "HW2"]
    assert rows[1:] == [["Ada Lovelace", "s01", "ada@example.edu", "27", "0.3333"],
                        ["Alan Turing, Jr.", "s02", "alan@example.edu", "19.8", "0"],
                        ["Grace Hopper", "s03", "grace@example.edu", "", "3"]]


def test_plain_csv(tmp_path):
    rows = read(lms_export.write(course(), Format.CSV, tmp_path / "plain.csv"))
    assert rows[0] == list(lms_export.PLAIN_COLUMNS)
    by = {(r[0], r[4]): dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert len(by) == 6
    alan = by["s02", "gradient_descent"]
    assert (alan["raw_score"], alan["late_penalty"], alan["score"], alan["max_score"]) == ("22", "2.2", "19.8", "27")
    assert (alan["hours_late"], alan["grace_days"], alan["status"]) == ("25", "1", "graded")
    grace = by["s03", "gradient_descent"]
    assert (grace["status"], grace["score"], grace["raw_score"]) == ("missing", "", "")
    assert by["s02", "mlp_backprop"]["status"] == "not graded"


def test_points():
    assert [lms_export.points(x) for x in (27.0, 19.8, 1 / 3, 0.0, -0.0, 2.25, 1e-9)] == \
        ["27", "19.8", "0.3333", "0", "0", "2.25", "0"]


def test_one_assignment_twice_is_refused(tmp_path):
    with pytest.raises(CourseError, match="given twice: gradient_descent"):
        lms_export.write(course()[:1] * 2, Format.CANVAS, tmp_path / "x.csv")
