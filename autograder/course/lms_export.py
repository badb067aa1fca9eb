"""The files a learning-management system imports, made from the ``course.json`` of graded
folders (one per assignment; ``autograder export-grades``):

* Canvas's gradebook CSV: ``Student, ID, SIS User ID, SIS Login ID, Section``, then a column
  per assignment named ``Title (canvas id)`` (an existing assignment; without an id, Canvas
  offers to create one), and a "Points Possible" row under the header, as Canvas's own export
  has. Canvas matches students by ID, SIS User ID or SIS Login ID.
* Moodle's grade import CSV: ``Full name, ID number, Email address`` and a column per grade
  item; on import, "Map from" Email address (or ID number) to the same user field, and each
  assignment's column to its grade item.
* A plain CSV: one row per student and assignment, with the raw score, the penalty and why.

Scores are the final scores (the late penalty taken off) with up to four decimals, a point as
the decimal separator, as both systems read them. A student with no submission gets an empty
cell (the LMS keeps what it has), or 0 with ``missing_as_zero``.
"""
from __future__ import annotations

import enum
from pathlib import Path

from .. import text
from ..results import RosterEntry, atomic_write
from .course_grades import CourseError, CourseGrades, Status, StudentGrade

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_COLUMNS = ("Full name", "ID number", "Email address")
PLAIN_COLUMNS = ("student_id", "name", "email", "section", "assignment", "title", "status", "submission",
                 "submitted_at", "hours_late", "grace_days", "raw_score", "late_penalty", "score", "max_score",
                 "late_policy")


class Format(enum.StrEnum):
    CANVAS = "canvas"
    MOODLE = "moodle"
    CSV = "csv"


def points(x: float) -> str:
    """A score as the LMS reads it: up to four decimals, no trailing zeros (12.5, 10, 0.3333)."""
    shown = f"{round(x, 4):.4f}".rstrip("0").rstrip(".")
    return "0" if shown in ("-0", "") else shown


def _column_title(g: CourseGrades) -> str:
    return f"{g.title} ({g.canvas_id})" if g.canvas_id else g.title


def _students(course: list[CourseGrades]) -> list[RosterEntry]:
    seen: dict[str, RosterEntry] = {}
    for g in course:
        for s in g.grades:
            seen.setdefault(s.student.id, s.student)
    return list(seen.values())


def _cell(grade: StudentGrade | None, missing_as_zero: bool) -> str:
    if grade is None or grade.status == Status.MISSING:
        return "0" if missing_as_zero else ""
    return points(grade.score)


def rows(course: list[CourseGrades], fmt: Format, missing_as_zero: bool = False) -> list[list[str]]:
    """The file's rows, header first."""
    names = [g.assignment for g in course]
    if len(set(names)) != len(names):
        raise CourseError(f"an assignment is given twice: {', '.join(sorted(n for n in names if names.count(n) > 1))}")
    by = [{s.student.id: s for s in g.grades} for g in course]
    students = _students(course)
    if fmt is Format.CANVAS:
        out = [[*CANVAS_COLUMNS, *(_column_title(g) for g in course)],
               ["Points Possible", "", "", "", "", *(points(g.max_score) for g in course)]]
        out += [[s.name, s.canvas_id, s.id, s.login, s.section, *(_cell(b.get(s.id), missing_as_zero) for b in by)]
                for s in students]
        return out
    if fmt is Format.MOODLE:
        return [[*MOODLE_COLUMNS, *(g.title for g in course)]] + [
            [s.name, s.id, s.email, *(_cell(b.get(s.id), missing_as_zero) for b in by)] for s in students]
    out = [list(PLAIN_COLUMNS)]
    for s in students:
        for g, b in zip(course, by, strict=True):
            x = b.get(s.id)
            late = x.late if x else None
            earned = None if x is None or x.status == Status.MISSING else x
            out.append([s.id, s.name, s.email, s.section, g.assignment, g.title, x.status if x else Status.MISSING,
                        x.submission if x else "", late.submitted_at if late else "",
                        points(late.late_seconds / 3600) if late and late.late_seconds > 0 else "0" if late else "",
                        str(late.grace_days) if late else "", points(earned.raw_score) if earned else "",
                        points(earned.late_penalty) if earned else "", _cell(x, missing_as_zero), points(g.max_score),
                        late.how if late else ""])
    return out


def write(course: list[CourseGrades], fmt: Format, dest: str | Path, missing_as_zero: bool = False) -> Path:
    """Write the import file for ``fmt`` to ``dest`` (UTF-8, comma-separated, CRLF line ends
    as the CSV standard has them) and return its path."""
    atomic_write(dest, text.csv_text(rows(course, fmt, missing_as_zero)))  # names may start formulas
    return Path(dest)
