"""A course's deadlines and late policy, declared in one TOML file (``read_policy``), and what
they make of one submission's time (``Policy.lateness``). The file, with every key::

    timezone = "America/New_York"  # dates written without an offset are in this zone
    roster = "roster.csv"          # optional; relative to this file (``--roster`` overrides it)
    grace_days = 3                 # a pool of whole days shared by every assignment (default 0)
    grace_ledger = "grace_days.json"  # where the days used are kept (needed with grace_days)
    counts = "last_on_time"        # of several submissions: "last_on_time", "best" or "last"

    [late_penalty]
    per = "day"                    # or "hour": each started day (hour) late costs ...
    fraction = 0.10                # ... this share of the score earned
    cap = 0.50                     # at most this share in all (default 1.0)

    [assignments.gradient_descent]
    title = "HW1: Gradient descent"  # the LMS column's name (default: the assignment's name)
    due = 2026-10-02T23:59:00
    cutoff = 2026-10-09T23:59:00   # optional: nothing is accepted after it (score 0)
    canvas_id = "4101"             # optional: Canvas's assignment id, for its column "title (id)"
    [assignments.gradient_descent.extensions]
    s0007 = 2026-10-05T23:59:00    # a student's own due date; their cutoff moves as much

Grace days are used, one whole day at a time, as soon as a submission is late and the student
has days left; the penalty counts the time late after them. An error names the file, the line
and what was expected.
"""
from __future__ import annotations

import datetime as dt
import enum
import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..results import Lateness

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


class PolicyError(ValueError):
    """The policy file cannot be used: the message names the file, the line and why."""


class Per(enum.StrEnum):
    """The unit lateness is counted in: each started one costs the penalty's fraction."""
    DAY = "day"
    HOUR = "hour"

    @property
    def length(self) -> dt.timedelta:
        return DAY if self is Per.DAY else HOUR


class Counts(enum.StrEnum):
    """Which of a student's several submissions counts."""
    LAST_ON_TIME = "last_on_time"  # the last one before the due date; if none, the best late one
    BEST = "best"  # the highest final score (the later one on a tie)
    LAST = "last"  # the last one handed in


@dataclass(frozen=True)
class Deadline:
    """One assignment's dates."""
    title: str
    due: dt.datetime
    cutoff: dt.datetime | None = None
    canvas_id: str = ""
    extensions: dict[str, dt.datetime] = field(default_factory=dict)  # student id -> their due date

    def for_student(self, student_id: str) -> tuple[dt.datetime, dt.datetime | None]:
        """The student's due date and cutoff: an extension moves both by the same time."""
        due = self.extensions.get(student_id, self.due)
        return due, (self.cutoff + (due - self.due) if self.cutoff else None)


@dataclass(frozen=True)
class Policy:
    """A course's late policy and deadlines (``read_policy``)."""
    path: Path
    timezone: dt.tzinfo
    assignments: dict[str, Deadline]
    fraction: float = 0.0
    per: Per = Per.DAY
    cap: float = 1.0
    grace_days: int = 0
    grace_ledger: Path | None = None
    counts: Counts = Counts.LAST_ON_TIME
    roster: Path | None = None

    def deadline(self, assignment: str) -> Deadline:
        if assignment not in self.assignments:
            raise PolicyError(f"{self.path}: no [assignments.{assignment}] table: add its due date "
                              f"(declared: {', '.join(sorted(self.assignments)) or 'none'})")
        return self.assignments[assignment]

    def lateness(self, assignment: str, student_id: str, submitted: dt.datetime, source: str,
                 grace_left: int = 0) -> Lateness:
        """What the policy makes of a submission handed in at ``submitted`` by ``student_id``
        (who has ``grace_left`` grace days): its lateness, the grace days it uses and the
        share of its score taken off, with the computation in words."""
        due, cutoff = self.deadline(assignment).for_student(student_id)
        extended = " (with an extension)" if student_id in self.deadline(assignment).extensions else ""
        when = f"submitted {_show(submitted)}"
        base = Lateness(submitted_at=submitted.isoformat(), source=source, due=due.isoformat(),
                        cutoff=cutoff.isoformat() if cutoff else "")
        # Elapsed time, in UTC: across a change of summer time, wall clocks gain or lose an hour.
        late = submitted.astimezone(dt.UTC) - due.astimezone(dt.UTC)
        if cutoff is not None and submitted.astimezone(dt.UTC) > cutoff.astimezone(dt.UTC):
            return replace(base, late_seconds=late.total_seconds(), fraction=1.0,
                            how=f"{when}, after the cutoff {_show(cutoff)}{extended}: not accepted, score 0")
        if late <= dt.timedelta(0):
            return replace(base, how=f"{when}, by the due date {_show(due)}{extended}: on time")
        days_late = math.ceil(late / DAY)
        grace = min(days_late, max(0, grace_left))
        rest = late - grace * DAY
        said = f"{when}, {_span(late)} after the due date {_show(due)}{extended}"
        if grace:
            said += f"; {grace} grace day{'s' if grace > 1 else ''} used ({grace_left - grace} left)"
        if rest <= dt.timedelta(0):
            return replace(base, late_seconds=late.total_seconds(), grace_days=grace, how=f"{said}: no penalty")
        units = math.ceil(rest / self.per.length)
        uncapped = round(units * self.fraction, 9)  # 3 x 0.1 is 0.30000000000000004
        fraction = min(self.cap, uncapped)
        capped = f", capped at {_pct(self.cap)}" if uncapped > self.cap else ""
        return replace(base, late_seconds=late.total_seconds(), grace_days=grace, fraction=round(fraction, 6),
                        how=f"{said}; {units} {self.per}{'s' if units > 1 else ''} late"
                            f"{' after them' if grace else ''} x {_pct(self.fraction)}{capped}: "
                            f"{_pct(fraction)} of the score taken off")

    def to_gradescope(self, assignment: str) -> dict[str, Any]:
        """The part of the policy the Gradescope zip applies to one assignment (no extensions
        or grace days: Gradescope's own extensions arrive in ``submission_metadata.json``)."""
        return {"fraction": self.fraction, "per": str(self.per), "cap": self.cap,
                "grace_days": self.grace_days}


def _pct(x: float) -> str:
    return f"{100 * x:g}%"


def _show(t: dt.datetime) -> str:
    zone = t.tzname() or ""
    return t.strftime("%Y-%m-%d %H:%M %Z").strip() if zone and not zone.startswith(("UTC+", "UTC-")) \
        else t.isoformat(" ", "minutes")


def _span(d: dt.timedelta) -> str:
    minutes = math.ceil(d.total_seconds() / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes)
    return " ".join(parts) or "0 min"


# -- reading the file ----------------------------------------------------------------------------

TOP_KEYS = {"timezone", "roster", "grace_days", "grace_ledger", "counts", "late_penalty", "assignments"}
PENALTY_KEYS = {"per", "fraction", "cap"}
ASSIGNMENT_KEYS = {"title", "due", "cutoff", "canvas_id", "extensions"}


class _Reader:
    """Raises PolicyError naming the file and the line a key is on."""

    def __init__(self, path: Path, text: str):
        self.path, self.lines = path, text.splitlines()

    def line(self, key: str, after: str = "") -> int:
        start = 0
        if after:  # the table's header, so that a key of two tables is found in the right one
            header = re.compile(rf"^\s*\[\s*{re.escape(after)}\s*\]")
            start = next((i for i, t in enumerate(self.lines) if header.match(t)), 0)
        pattern = re.compile(rf'^\s*["\']?{re.escape(key)}["\']?\s*=')
        return next((i + 1 for i, t in enumerate(self.lines) if i >= start and pattern.match(t)), 0)

    def fail(self, key: str, why: str, table: str = "") -> PolicyError:
        n = self.line(key, table)
        return PolicyError(f"{self.path}{f':{n}' if n else ''}: {key}: {why}")

    def date(self, value: Any, key: str, table: str, tz: dt.tzinfo) -> dt.datetime:
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                raise self.fail(key, f"cannot read {value!r} as a date and time: write it like "
                                     "2026-10-02T23:59:00 (or with an offset, 2026-10-02T23:59:00-04:00)",
                                table) from None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            raise self.fail(key, f"{value} has no time of day: write it like {value}T23:59:00", table)
        if not isinstance(value, dt.datetime):
            raise self.fail(key, f"expected a date and time like 2026-10-02T23:59:00, got {value!r}", table)
        return value if value.tzinfo else value.replace(tzinfo=tz)

    def unknown(self, table: dict, allowed: set[str], name: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(key, f"unknown key in {name}; expected one of {', '.join(sorted(allowed))}",
                                name.strip("[]") if name.startswith("[") else "")


def _zone(name: Any, reader: _Reader) -> dt.tzinfo:
    if name in (None, "UTC"):
        return dt.UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise reader.fail("timezone", f"no time zone {name!r} on this machine: use a name like "
                                      "\"Europe/Berlin\" or \"UTC\"") from None


def _number(reader: _Reader, table: dict, key: str, default: float, low: float, high: float, name: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise reader.fail(key, f"expected a number from {low:g} to {high:g}, got {value!r}", name)
    return float(value)


def read_policy(path: str | Path) -> Policy:
    """The policy declared in ``path`` (see the module's docstring); PolicyError when it
    cannot be read, naming the file, the line and what was expected."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"{path}: cannot read the policy file: {getattr(e, 'strerror', None) or e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"{path}: not valid TOML: {e}") from None
    r = _Reader(path, text)
    r.unknown(data, TOP_KEYS, "the file's top level")
    tz = _zone(data.get("timezone"), r)
    late = data.get("late_penalty", {})
    if not isinstance(late, dict):
        raise r.fail("late_penalty", "expected a table [late_penalty]")
    r.unknown(late, PENALTY_KEYS, "[late_penalty]")
    per = late.get("per", "day")
    if per not in {p.value for p in Per}:
        raise r.fail("per", f"expected \"day\" or \"hour\", got {per!r}", "late_penalty")
    counts = data.get("counts", Counts.LAST_ON_TIME.value)
    if counts not in {c.value for c in Counts}:
        raise r.fail("counts", f"expected one of {', '.join(repr(c.value) for c in Counts)}, got {counts!r}")
    grace = data.get("grace_days", 0)
    if isinstance(grace, bool) or not isinstance(grace, int) or grace < 0:
        raise r.fail("grace_days", f"expected a whole number of days (0 or more), got {grace!r}")
    ledger = data.get("grace_ledger")
    if grace and not ledger:
        raise r.fail("grace_days", "needs grace_ledger = \"grace_days.json\": the file the days used are kept in")
    for key in ("grace_ledger", "roster"):
        if key in data and not (isinstance(data[key], str) and data[key].strip()):
            raise r.fail(key, f"expected a file name, got {data[key]!r}")
    tables = data.get("assignments", {})
    if not isinstance(tables, dict) or not tables:
        raise PolicyError(f"{path}: no [assignments.NAME] table: declare each assignment's due date")
    deadlines = {}
    for name, table in tables.items():
        where = f"assignments.{name}"
        if not isinstance(table, dict):
            raise r.fail(name, f"expected a table [{where}]", "assignments")
        r.unknown(table, ASSIGNMENT_KEYS, f"[{where}]")
        if "due" not in table:
            raise PolicyError(f"{path}:{r.line('', where) or '?'}: [{where}] has no due date: add due = "
                              "2026-10-02T23:59:00")
        due = r.date(table["due"], "due", where, tz)
        cutoff = r.date(table["cutoff"], "cutoff", where, tz) if "cutoff" in table else None
        if cutoff is not None and cutoff < due:
            raise r.fail("cutoff", f"{cutoff} is before the due date {due}", where)
        extensions = table.get("extensions", {})
        if not isinstance(extensions, dict):
            raise r.fail("extensions", "expected a table of student id = date", where)
        ext = {str(sid): r.date(v, str(sid), f"{where}.extensions", tz) for sid, v in extensions.items()}
        for sid, when in ext.items():
            if when < due:
                raise r.fail(sid, f"the extension {when} is before the due date {due}", f"{where}.extensions")
        title = table.get("title", name)
        if not isinstance(title, str) or not title.strip():
            raise r.fail("title", f"expected the assignment's title, got {title!r}", where)
        deadlines[name] = Deadline(title.strip(), due, cutoff, str(table.get("canvas_id", "")), ext)
    return Policy(path=path, timezone=tz, assignments=deadlines,
                  fraction=_number(r, late, "fraction", 0.0, 0.0, 1.0, "late_penalty"), per=Per(per),
                  cap=_number(r, late, "cap", 1.0, 0.0, 1.0, "late_penalty"), grace_days=grace,
                  grace_ledger=path.parent / ledger if ledger else None, counts=Counts(counts),
                  roster=path.parent / data["roster"] if data.get("roster") else None)


def read_time(value: Any, tz: dt.tzinfo) -> dt.datetime:
    """A submission time from metadata or a roster cell (ISO 8601; without an offset, in
    ``tz``); ValueError when it is not one."""
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, str):
        t = dt.datetime.fromisoformat(value.strip().replace(" UTC", "+00:00"))
    else:
        raise ValueError(f"expected a date and time, got {type(value).__name__}")
    return t if t.tzinfo else t.replace(tzinfo=tz)


def from_gradescope(settings: dict[str, Any], metadata: Any) -> Lateness | None:
    """The lateness of the submission Gradescope is grading, by the zip's ``settings``
    (``Policy.to_gradescope``) and ``submission_metadata.json``: its ``created_at`` against the
    assignment's ``due_date`` (the student's own, where Gradescope lists an extension under
    ``users[0].assignment``) with ``late_due_date`` as the cutoff. None where the metadata
    does not say. Grace days are shared across assignments, which one Gradescope run cannot
    see: with a pool, lateness is reported and the penalty left to the course's export."""
    try:
        submitted = read_time(metadata["created_at"], dt.UTC)
        assignment = metadata.get("assignment") or {}
        users = metadata.get("users") or [{}]
        own = (users[0] or {}).get("assignment") or {}
        due = read_time(own.get("due_date") or assignment["due_date"], dt.UTC)
        late_due = own.get("late_due_date") or assignment.get("late_due_date")
        cutoff = read_time(late_due, dt.UTC) if late_due else None
        policy = Policy(Path("otter_config.json"), due.tzinfo or dt.UTC, {"": Deadline("", due, cutoff)},
                        fraction=float(settings["fraction"]), per=Per(settings["per"]), cap=float(settings["cap"]))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None
    late = policy.lateness("", "", submitted, "Gradescope's submission time")
    if settings.get("grace_days") and 0 < late.fraction < 1:
        late = replace(late, fraction=0.0, how=f"submitted {_show(submitted)}, {_span(submitted - due)} after the due "
                       f"date {_show(due)}: grace days and any late penalty are applied when the course's grades "
                       "are exported")
    return late
