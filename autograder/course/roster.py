"""The course's roster (a CSV file, ``read_roster``) and which student a submission belongs to
(``Roster.match``).

Columns (a header row; names are case-insensitive, in any order):
    id, name, email           required: the student id, as the LMS knows it (SIS id)
    section                   optional
    submission                optional: the submission's file or folder name, or glob patterns
                              ("*jdoe*"; several separated by ";"); empty: the file's name holds
                              the student id as a word (``s0007.ipynb``, ``hw1_s0007_v2.zip``)
    submitted_at              optional: when it was handed in (ISO 8601), where no metadata says
    login, canvas_id          optional: Canvas's "SIS Login ID" and its own user id
An error names the file and the line: a missing column, an empty or repeated id or email.
"""
from __future__ import annotations

import csv
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from ..results import RosterEntry

MAX_BYTES = 16 << 20
REQUIRED = ("id", "name", "email")
OPTIONAL = ("section", "submission", "submitted_at", "login", "canvas_id")
ALIASES = {"student id": "id", "student_id": "id", "sid": "id", "sis user id": "id", "e-mail": "email",
           "email address": "email", "full name": "name", "sis login id": "login", "pattern": "submission"}


class RosterError(ValueError):
    """The roster cannot be used: the message names the file, the line and why."""


@dataclass(frozen=True)
class Listed:
    """A roster row: the student, and how their submission is found."""
    student: RosterEntry
    patterns: tuple[str, ...]
    submitted_at: str
    line: int


class Roster:
    """The students of a course, in roster order."""

    def __init__(self, path: Path, listed: list[Listed]):
        self.path = path
        self.listed = listed
        self.by_id = {x.student.id: x for x in listed}
        self.by_email = {x.student.email.lower(): x for x in listed}

    @property
    def students(self) -> list[RosterEntry]:
        return [x.student for x in self.listed]

    def match(self, file_name: str) -> tuple[list[Listed], str]:
        """The students a submission's file (or folder) name belongs to, and, when not exactly
        one, why (no student, or several)."""
        stem = Path(file_name).stem if Path(file_name).suffix else file_name
        found = [x for x in self.listed if _matches(x, file_name, stem)]
        if len(found) == 1:
            return found, ""
        if not found:
            return [], "matches no student of the roster"
        return [], f"matches several students of the roster ({', '.join(x.student.id for x in found[:5])})"

    def find(self, sid: str = "", email: str = "") -> Listed | None:
        """The student with this id, or else this email."""
        return self.by_id.get(sid.strip()) or self.by_email.get(email.strip().lower())


def _matches(x: Listed, name: str, stem: str) -> bool:
    if x.patterns:
        return any(fnmatch.fnmatch(n.lower(), p.lower()) for p in x.patterns for n in (name, stem))
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(x.student.id)}(?![A-Za-z0-9])", name, re.I) is not None


def read_roster(path: str | Path) -> Roster:
    """The roster at ``path``; RosterError naming the file and line of what is wrong."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise RosterError(f"{path}: {size >> 20} MiB is not a roster")
        text = path.read_text(encoding="utf-8-sig")  # Excel writes a byte-order mark
    except (OSError, UnicodeDecodeError) as e:
        raise RosterError(f"{path}: cannot read the roster: {getattr(e, 'strerror', None) or e}") from None
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    if not header:
        raise RosterError(f"{path}: empty; expected a header row with columns {', '.join(REQUIRED)}")
    columns = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise RosterError(f"{path}:1: no column {', '.join(missing)}; expected {', '.join(REQUIRED)} "
                          f"(and optionally {', '.join(OPTIONAL)}), got {', '.join(h.strip() for h in header)}")
    unknown = [h for h, c in zip(header, columns, strict=True) if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise RosterError(f"{path}:1: unknown column {', '.join(map(repr, unknown))}; expected "
                          f"{', '.join(REQUIRED + OPTIONAL)}")
    listed: list[Listed] = []
    ids: dict[str, int] = {}
    emails: dict[str, int] = {}
    for n, row in enumerate(rows, 2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) != len(columns):
            raise RosterError(f"{path}:{n}: {len(row)} cells, expected {len(columns)} (one per column of the header)")
        cell = {c: v.strip() for c, v in zip(columns, row, strict=True)}
        for c in REQUIRED:
            if not cell[c]:
                raise RosterError(f"{path}:{n}: empty {c}")
        if cell["id"] in ids:
            raise RosterError(f"{path}:{n}: student id {cell['id']!r} is already on line {ids[cell['id']]}")
        email = cell["email"].lower()
        if email in emails:
            raise RosterError(f"{path}:{n}: email {cell['email']!r} is already on line {emails[email]}")
        if "@" not in email:
            raise RosterError(f"{path}:{n}: {cell['email']!r} is not an email address")
        ids[cell["id"]], emails[email] = n, n
        student = RosterEntry(cell["id"], cell["name"], cell["email"], cell.get("section", ""),
                              cell.get("login", ""), cell.get("canvas_id", ""))
        patterns = tuple(p.strip() for p in cell.get("submission", "").split(";") if p.strip())
        listed.append(Listed(student, patterns, cell.get("submitted_at", ""), n))
    if not listed:
        raise RosterError(f"{path}: no students under the header")
    return Roster(path, listed)


def from_students(students: list[RosterEntry], source: Path) -> Roster:
    """A roster made of the students some metadata names (a Gradescope export without a
    roster file)."""
    return Roster(source, [Listed(s, (), "", 0) for s in students])
