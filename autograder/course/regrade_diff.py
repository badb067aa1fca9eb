"""What a regrade changed (``autograder report NEW --compare OLD``): the same batch graded
before and after a check or its points were fixed. Students (or, without a roster, submissions)
whose score changed, from what to what; the checks whose verdicts or points changed; a
ready-to-send line per student (``file_templates/course/regrade_message.txt.j2``); and a CSV
of it all (``regrade_diff.csv`` in NEW).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import templating, text
from ..results import CheckResult, SubmissionResult, atomic_write, read_folder
from . import course_grades
from .lms_export import points

DIFF_FILE = "regrade_diff.csv"
DIFF_COLUMNS = ("student_id", "name", "email", "submission", "old_score", "new_score", "change", "max_score",
                "checks_changed", "message")


@dataclass
class ScoreChange:
    """One student's (or submission's) score before and after."""
    key: str  # the student id, or the submission's name without a roster
    name: str
    email: str
    submission: str
    old: float | None  # None: not in that batch
    new: float | None
    max_score: float
    checks: list[str] = field(default_factory=list)  # the checks whose score changed for them
    message: str = ""


@dataclass
class CheckChange:
    """One check across the class, before and after."""
    name: str
    task: str
    words: str
    old_points: float | None  # None: the check did not exist
    new_points: float | None
    old_passed: int
    new_passed: int
    lost: list[str] = field(default_factory=list)  # who passed before and not now
    gained: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.old_points != self.new_points or bool(self.lost or self.gained)


@dataclass
class RegradeDiff:
    old_dir: Path
    new_dir: Path
    by_student: bool
    changes: list[ScoreChange]
    checks: list[CheckChange]
    compared: int  # students (or submissions) in both


def _passed(c: CheckResult | None) -> bool:
    return c is not None and c.score == c.points


def _reason(name: str, old: SubmissionResult | None, new: SubmissionResult | None) -> str:
    o = {c.name: c for c in old.checks} if old else {}
    n = {c.name: c for c in new.checks} if new else {}
    c = n.get(name) or o[name]
    what = f"Task {c.task}, \"{(c.doc or c.name).rstrip('.')}\""
    if name not in o:
        return f"{what} is a new check ({points(c.score)} of {points(c.points)})"
    if name not in n:
        return f"{what} was removed ({points(o[name].score)} of {points(o[name].points)} before)"
    if o[name].points != n[name].points:
        return f"{what} is worth {points(n[name].points)} instead of {points(o[name].points)} " \
               f"({points(o[name].score)} -> {points(n[name].score)})"
    verdict = "passes" if _passed(n[name]) else "fails"
    return f"{what} now {verdict} ({points(o[name].score)} -> {points(n[name].score)})"


def _changed_checks(old: SubmissionResult | None, new: SubmissionResult | None) -> list[str]:
    o = {c.name: (c.score, c.points) for c in old.checks} if old else {}
    n = {c.name: (c.score, c.points) for c in new.checks} if new else {}
    return [k for k in dict.fromkeys([*n, *o]) if o.get(k) != n.get(k)]


def compare(old_dir: str | Path, new_dir: str | Path) -> RegradeDiff:
    """Compare the graded folders ``old_dir`` and ``new_dir`` (results.json files, and their
    course.json where both have one). Raises CourseError when only one has a course.json."""
    old_dir, new_dir = Path(old_dir), Path(new_dir)
    if not old_dir.is_dir():
        raise course_grades.CourseError(f"no such folder: {old_dir}")
    old_results = {r.submission: r for r in read_folder(old_dir)[0]}
    new_results = {r.submission: r for r in read_folder(new_dir)[0]}
    if not old_results:
        raise course_grades.CourseError(f"no results.json files in {old_dir}: nothing to compare with")
    kinds = {r.assignment for r in [*old_results.values(), *new_results.values()]}
    if len(kinds) > 1:
        raise course_grades.CourseError(f"{old_dir} and {new_dir} hold results of different assignments "
                                        f"({', '.join(sorted(kinds))})")
    has = [(d / course_grades.COURSE_FILE).is_file() for d in (old_dir, new_dir)]
    if has[0] != has[1]:
        raise course_grades.CourseError(
            f"only {new_dir if has[1] else old_dir} has a {course_grades.COURSE_FILE}: grade both with the same "
            "roster to compare students, or neither to compare submissions")
    title = next(iter(new_results.values())).assignment if new_results else new_dir.name
    rows: list[_Pair] = []
    if has[1]:
        old_course, new_course = course_grades.read(old_dir), course_grades.read(new_dir)
        title = new_course.title
        old_by = {g.student.id: g for g in old_course.grades if g.status != course_grades.Status.MISSING}
        for g in new_course.grades:
            before = old_by.get(g.student.id)
            graded = g.status != course_grades.Status.MISSING
            rows.append(_Pair(g.student.id, g.student.name, g.student.email, g.submission,
                              old_results.get(before.submission) if before else None,
                              new_results.get(g.submission) if graded else None,
                              before.score if before else None, g.score if graded else None, new_course.max_score))
    else:
        for name in sorted(set(old_results) | set(new_results)):
            o, n = old_results.get(name), new_results.get(name)
            rows.append(_Pair(name, name, "", name, o, n, o.final_score if o else None, n.final_score if n else None,
                              (n or o).max_score))  # type: ignore[union-attr]
    changes = [_change(r, title) for r in rows if r.old != r.new]
    per_check: dict[str, CheckChange] = {}
    for r in rows:
        was = {c.name: c for c in r.old_result.checks} if r.old_result else {}
        now = {c.name: c for c in r.new_result.checks} if r.new_result else {}
        for cname in dict.fromkeys([*now, *was]):
            c = now.get(cname) or was[cname]
            cc = per_check.setdefault(cname, CheckChange(cname, c.task, c.doc or cname, None, None, 0, 0))
            if cname in was:
                cc.old_points = was[cname].points if cc.old_points is None else cc.old_points
                cc.old_passed += _passed(was[cname])
            if cname in now:
                cc.new_points = now[cname].points if cc.new_points is None else cc.new_points
                cc.new_passed += _passed(now[cname])
            if r.old_result and r.new_result and _passed(was.get(cname)) != _passed(now.get(cname)):
                (cc.gained if _passed(now.get(cname)) else cc.lost).append(r.key)
    return RegradeDiff(old_dir, new_dir, has[1], changes, list(per_check.values()),
                       sum(1 for r in rows if r.old is not None and r.new is not None))


@dataclass
class _Pair:
    """One student (or submission) in both gradings: what counted before and now."""
    key: str
    name: str
    email: str
    submission: str
    old_result: SubmissionResult | None
    new_result: SubmissionResult | None
    old: float | None
    new: float | None
    max_score: float


def _change(r: _Pair, title: str) -> ScoreChange:
    """A changed score, with the reasons and the message to send."""
    o, n = r.old_result, r.new_result
    checks = _changed_checks(o, n)
    reasons = [_reason(c, o, n) for c in checks]
    if o is not None and n is not None and o.submission != n.submission:
        reasons.append(f"the submission that counts is now {n.submission} (it was {o.submission})")
    if o is not None and n is not None and o.penalty != n.penalty:
        reasons.append(f"the late penalty is {points(n.penalty)} instead of {points(o.penalty)}"
                       + (f" ({n.late.how})" if n.late else ""))
    message = templating.render(
        "course/regrade_message.txt.j2", name=r.name, title=title, old=points(r.old or 0), new=points(r.new or 0),
        max_score=points(r.max_score), reasons=reasons).strip()
    return ScoreChange(r.key, r.name, r.email, r.submission, r.old, r.new, r.max_score, checks, message)


def write_csv(diff: RegradeDiff, dest: str | Path | None = None) -> Path:
    """``regrade_diff.csv`` (in the new folder by default): a row per changed score."""
    rows: list[list[object]] = [list(DIFF_COLUMNS)]
    for c in diff.changes:
        rows.append([c.key if diff.by_student else "", c.name if diff.by_student else "", c.email, c.submission,
                    "" if c.old is None else points(c.old), "" if c.new is None else points(c.new),
                    points((c.new or 0) - (c.old or 0)), points(c.max_score), ";".join(c.checks), c.message])
    path = Path(dest) if dest else diff.new_dir / DIFF_FILE
    atomic_write(path, text.csv_text(rows))  # names and messages may start formulas
    return path


def _pts(x: float | None) -> str:
    return "-" if x is None else points(x)


def lines(diff: RegradeDiff) -> list[str]:
    """What the terminal says."""
    who = "student" if diff.by_student else "submission"
    out = [f"Compared with {diff.old_dir}: {len(diff.changes)} of {diff.compared} {who}(s) changed score"]
    for c in diff.checks:
        if c.changed:
            plural = "s" if c.new_points != 1 else ""
            pts = (f"{_pts(c.old_points)} -> {_pts(c.new_points)} point{plural}" if c.old_points != c.new_points
                   else f"{_pts(c.new_points)} point{plural}")
            out.append(f"  check {c.name} (Task {c.task}): {pts}; passed by {c.old_passed} -> {c.new_passed}"
                       + (f"; lost by {', '.join(c.lost)}" if c.lost else "")
                       + (f"; gained by {', '.join(c.gained)}" if c.gained else ""))
    for s in diff.changes:
        out.append(f"  {s.key}: {_pts(s.old)} -> {_pts(s.new)} ({', '.join(s.checks) or 'late penalty or submission'})")
    return out
