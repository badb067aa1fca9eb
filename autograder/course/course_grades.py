"""A batch seen as a course: before grading, who handed in each submission and when, and what
the late policy takes off (``plan``); after it, the one grade per student that counts
(``decide``), kept in the output folder as ``course.json`` with the roster, the submissions
that match no student and the students with none. The LMS files (``lms_export``) and the
regrade diff (``regrade_diff``) are made from ``course.json``.
"""
from __future__ import annotations

import datetime as dt
import enum
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..results import Lateness, RosterEntry, SubmissionResult, atomic_write
from . import gradescope_export
from .grace_ledger import GraceLedger
from .late_policy import Counts, Policy, read_policy, read_time
from .roster import Listed, Roster, from_students, read_roster

COURSE_FILE = "course.json"
FORMAT = 1
FUTURE_SLACK = dt.timedelta(minutes=5)  # clocks of the LMS and this machine differ a little


class CourseError(ValueError):
    """A submission's course facts cannot be established (the message names the file and why)."""


@dataclass(frozen=True)
class Course:
    """What a batch knows of the course: its policy and its roster (either may be absent)."""
    policy: Policy | None = None
    roster: Roster | None = None

    def files(self) -> list[Path]:
        """The course's own files (policy, roster, grace-day ledger): never a worker's to read."""
        found = [self.policy.path, self.policy.roster, self.policy.grace_ledger] if self.policy else []
        return [p for p in [*found, self.roster.path if self.roster else None] if p is not None]


def load(policy: str | Path | None = None, roster: str | Path | None = None) -> Course:
    """The course of ``autograder grade --policy P --roster R``; the roster defaults to the
    one the policy names. Raises PolicyError or RosterError."""
    p = read_policy(policy) if policy else None
    r = roster or (p.roster if p else None)
    return Course(p, read_roster(r) if r else None)


class Status(enum.StrEnum):
    """A student's grade for one assignment: graded, not graded (it could not be), missing."""
    GRADED = "graded"
    UNGRADED = "not graded"
    MISSING = "missing"


@dataclass
class Plan:
    """Per submission name: its students and its lateness; what matched no student; and why a
    submission cannot be graded, where its time says so (``problems``: an error row each)."""
    students: dict[str, list[RosterEntry]] = field(default_factory=dict)
    late: dict[str, Lateness] = field(default_factory=dict)
    unmatched: dict[str, str] = field(default_factory=dict)  # submission name -> why
    problems: dict[str, str] = field(default_factory=dict)  # submission name -> why
    roster: Roster | None = None


def _file_time(path: Path) -> dt.datetime:
    """When a file (a folder: its newest file) was last written."""
    files = [q for q in path.rglob("*") if q.is_file()] if path.is_dir() else [path]
    stamp = max((q.stat().st_mtime for q in files), default=path.stat().st_mtime)
    return dt.datetime.fromtimestamp(stamp, dt.UTC)


def plan(course: Course, assignment: str, found: Sequence[Any], now: dt.datetime | None = None) -> Plan:
    """Who handed in each of ``found`` (``submission.Found``) and what the policy makes of its
    time. Times come from the metadata of the Gradescope export a submission is a folder of
    (``Found.export``: only an export the instructor gave), else the roster's submitted_at,
    else the file. A time in the future is that submission's problem (``Plan.problems``).
    Raises CourseError on the course's own records that cannot be read (the export's metadata,
    the roster's submitted_at), PolicyError when the policy does not declare ``assignment``."""
    now = now or dt.datetime.now(dt.UTC)
    policy, roster = course.policy, course.roster
    deadline = policy.deadline(assignment) if policy else None
    roots = {f.name: f.export for f in found}
    exports: dict[Path, dict[str, gradescope_export.Exported]] = {}
    for root in set(roots.values()):
        if root is not None:
            try:
                exports[root] = gradescope_export.read_export(root)
            except gradescope_export.ExportError as e:
                raise CourseError(str(e)) from None
    if roster is None and exports:  # the export names the students
        named = {s.id or s.email: s for meta in exports.values() for e in meta.values() for s in e.submitters}
        roster = from_students(list(named.values()), next(iter(exports)) / gradescope_export.METADATA)
    out = Plan(roster=roster)
    left = {}
    if policy and policy.grace_days and policy.grace_ledger:
        left = GraceLedger(policy.grace_ledger).left(policy.grace_days, assignment)
    for f in found:
        root = roots[f.name]
        meta = exports[root].get(f.path.name) if root else None
        submitted, source = None, ""
        if meta is not None:
            listed: list[Listed | None] = [roster.find(s.id, s.email) if roster else None for s in meta.submitters]
            students = [x.student for x in listed if x is not None]
            if not students:
                who = ", ".join(s.name or s.email for s in meta.submitters)
                out.unmatched[f.name] = f"handed in on Gradescope by {who}, who is not on the roster"
            submitted, source = meta.created_at, f"Gradescope's {gradescope_export.METADATA} ({f.path.name})"
        elif roster is not None:
            matched, why = roster.match(f.path.name)
            students = [x.student for x in matched]
            if why:
                out.unmatched[f.name] = f"{f.path.name} {why}"
            elif matched[0].submitted_at:
                row = matched[0]
                source = f"the roster ({roster.path.name}, line {row.line})"
                try:
                    submitted = read_time(row.submitted_at, policy.timezone if policy else dt.UTC)
                except ValueError:
                    raise CourseError(f"{roster.path}:{row.line}: submitted_at {row.submitted_at!r} is not a date "
                                      "and time like 2026-10-02T23:12:00") from None
        else:
            students = []
        out.students[f.name] = students
        if policy is None or deadline is None or not students:
            continue
        if submitted is None:
            submitted, source = _file_time(f.path), f"the modification time of {f.path.name}"
        if submitted > now + FUTURE_SLACK:  # a file's date can be anything its maker chose
            out.problems[f.name] = (f"its submission time {submitted.isoformat()} is in the future (now "
                                    f"{now.isoformat(timespec='seconds')}; from {source}): fix the time or this "
                                    "machine's clock")
            continue
        sid = students[0].id
        out.late[f.name] = policy.lateness(assignment, sid, submitted.astimezone(policy.timezone), source,
                                           left.get(sid, policy.grace_days))
    return out


@dataclass
class StudentGrade:
    """The grade that counts for one student on one assignment."""
    student: RosterEntry
    status: Status
    submission: str = ""
    raw_score: float = 0.0
    late_penalty: float = 0.0
    score: float = 0.0
    late: Lateness | None = None
    others: list[str] = field(default_factory=list)  # their submissions that do not count


@dataclass
class CourseGrades:
    """One assignment's grades per student (``course.json``)."""
    assignment: str
    title: str
    canvas_id: str
    max_score: float
    grades: list[StudentGrade]
    unmatched: dict[str, str]
    counts: str = ""
    grace_changes: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def missing(self) -> list[RosterEntry]:
        return [g.student for g in self.grades if g.status == Status.MISSING]


def _chosen(results: list[SubmissionResult], counts: Counts) -> SubmissionResult:
    def when(r: SubmissionResult) -> str:
        return dt.datetime.fromisoformat(r.late.submitted_at).astimezone(dt.UTC).isoformat() if r.late else ""
    best = max(results, key=lambda r: (r.final_score, when(r), r.submission))
    if counts is Counts.BEST or not all(r.late for r in results):
        return best
    if counts is Counts.LAST:
        return max(results, key=lambda r: (when(r), r.submission))
    on_time = [r for r in results if r.late and r.late.late_seconds <= 0]
    return max(on_time, key=lambda r: (when(r), r.submission)) if on_time else best


def decide(course: Course, plan: Plan, assignment: str, results: list[SubmissionResult],
           max_score: float) -> CourseGrades:
    """Each roster student's grade: the submission that counts by the policy's rule, or
    missing. Grace days used by the counted submissions go into the ledger."""
    policy = course.policy
    by_student: dict[str, list[SubmissionResult]] = {}
    for r in results:
        for s in r.students:
            by_student.setdefault(s.id, []).append(r)
    counts = policy.counts if policy else Counts.BEST
    grades = []
    for s in plan.roster.students if plan.roster else []:
        mine = by_student.get(s.id, [])
        if not mine:
            grades.append(StudentGrade(s, Status.MISSING))
            continue
        r = _chosen(mine, counts)
        grades.append(StudentGrade(s, Status.GRADED if r.graded else Status.UNGRADED, r.submission, r.score,
                                   r.penalty, r.final_score, r.late,
                                   sorted(x.submission for x in mine if x is not r)))
    deadline = policy.deadline(assignment) if policy else None
    out = CourseGrades(assignment, deadline.title if deadline else assignment, deadline.canvas_id if deadline else "",
                       max_score, grades, dict(sorted(plan.unmatched.items())), str(counts))
    if policy and policy.grace_days and policy.grace_ledger:
        out.grace_changes = GraceLedger(policy.grace_ledger).record(
            assignment, {g.student.id: g.late.grace_days for g in grades if g.late and g.late.grace_days})
    return out


def write(grades: CourseGrades, out_dir: str | os.PathLike[str]) -> Path:
    path = Path(out_dir) / COURSE_FILE
    data = {"format": FORMAT, **asdict(grades)}
    data.pop("grace_changes")
    atomic_write(path, json.dumps(data, indent=1))
    return path


MAX_COURSE_BYTES = 64 << 20


def read(out_dir: str | os.PathLike[str]) -> CourseGrades:
    """The ``course.json`` of a graded folder; CourseError naming the file when there is none
    or it is not one."""
    path = Path(out_dir) / COURSE_FILE
    try:
        if path.stat().st_size > MAX_COURSE_BYTES:
            raise CourseError(f"{path}: too large to be a {COURSE_FILE}")
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise CourseError(f"{path}: written by another version (format {data.get('format')!r})")
        grades = [StudentGrade(RosterEntry(**g["student"]), Status(g["status"]), str(g["submission"]),
                               float(g["raw_score"]), float(g["late_penalty"]), float(g["score"]),
                               Lateness(**g["late"]) if g["late"] else None, [str(o) for o in g["others"]])
                  for g in data["grades"]]
        return CourseGrades(str(data["assignment"]), str(data["title"]), str(data["canvas_id"]),
                            float(data["max_score"]), grades, {str(k): str(v) for k, v in data["unmatched"].items()},
                            str(data["counts"]))
    except FileNotFoundError:
        raise CourseError(f"{path}: no such file: {Path(out_dir)} was graded without a roster "
                          "(`autograder grade ... --roster roster.csv` or --policy naming one)") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        if isinstance(e, CourseError):
            raise
        raise CourseError(f"{path}: not a {COURSE_FILE} of this grader ({type(e).__name__}: {e})") from None


def _late_words(g: StudentGrade) -> str:
    """How lateness ended for one student, in a few words: "-5.4 (2 grace days)"."""
    assert g.late is not None
    if g.late.fraction >= 1:
        return f"-{g.late_penalty:g} (after the cutoff)"
    grace = f"{g.late.grace_days} grace day{'s' if g.late.grace_days != 1 else ''}" if g.late.grace_days else ""
    if not g.late_penalty:
        return f"({grace}, no penalty)" if grace else "(no penalty)"
    return f"-{g.late_penalty:g}" + (f" ({grace})" if grace else "")


def summary_lines(grades: CourseGrades, ledger: Path | None = None) -> list[str]:
    """What the terminal says of the course view of a batch."""
    counted = [g for g in grades.grades if g.status != Status.MISSING]
    late = [g for g in counted if g.late and g.late.late_seconds > 0]
    lines = [f"Course: {len(grades.grades)} student(s) on the roster, {len(counted)} with a submission that counts "
             f"({grades.counts.replace('_', ' ')}), {len(grades.missing)} with none"]
    if grades.missing:
        lines.append("  No submission: " + ", ".join(f"{s.id} ({s.name})" for s in grades.missing))
    if grades.unmatched:
        lines.append(f"  Matching no student ({len(grades.unmatched)}):")
        lines += [f"    {name}: {why}" for name, why in grades.unmatched.items()]
    if late:
        lines.append(f"  Late ({len(late)}): " + ", ".join(f"{g.student.id} {_late_words(g)}" for g in late))
    if ledger is not None:
        lines.append(f"  Grace days: {sum(g.late.grace_days for g in counted if g.late)} used on {grades.assignment}; "
                     f"{ledger} " + (f"updated for {len(grades.grace_changes)} student(s)" if grades.grace_changes
                                     else "unchanged"))
    return lines
