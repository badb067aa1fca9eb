"""The record of a graded submission: ``SubmissionResult`` and its checks, and results.json,
the one file that holds it (Gradescope's schema, with everything else in ``extra_data``).

Everything made from a graded batch (grades.csv, the student pages, the class summary) is
made from these records alone, so it can be rebuilt from the results.json files of a folder
(``read_folder``): after a resumed batch, or from several folders at once. Nothing here
imports the grader: this module is where data flows from grading to reporting.
"""
import enum
import json
import math
import os
import re
import stat
import tempfile
import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from . import text
from .isolation import Mode

RESULTS = "results.json"
FORMAT = 3  # extra_data's layout; a results.json of another format is graded again
NO_SANDBOX_NOTE = ("Graded without isolation (--no-sandbox): the submission's code ran as the grader's user, "
                   "able to read and change what that user can.")


class CheckStatus(enum.StrEnum):
    """How one check ended (written as its value in results.json)."""
    PASSED = "passed"
    FAILED = "failed"  # a wrong answer, or the submission's own exception
    TIMEOUT = "timeout"  # stopped by a time limit
    CRASHED = "crashed"  # the submission's process died, or it never loaded


class SubmissionStatus(enum.StrEnum):
    """How grading a submission ended (grades.csv's status column)."""
    OK = "ok"  # every check ran
    ERROR = "error"  # it could not be read, loaded or graded in full
    TIMEOUT = "timeout"  # a time limit cut it short


@dataclass
class CheckResult:
    name: str
    task: str
    function: str
    points: float
    score: float
    hidden: bool
    output: str
    status: CheckStatus = CheckStatus.PASSED
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds spent in the submission's code (calls that returned)
    figures: list[dict[str, Any]] = field(default_factory=list)  # plot data for the feedback page (Student.plot)
    doc: str = ""  # the check in plain words: its docstring's first line


@dataclass(frozen=True)
class RosterEntry:
    """A student as the course's roster lists them (``course.roster``)."""
    id: str  # the institution's student id (Canvas's "SIS User ID", Moodle's "ID number")
    name: str
    email: str
    section: str = ""
    login: str = ""  # Canvas's "SIS Login ID"
    canvas_id: str = ""  # Canvas's own user id ("ID" in its gradebook)


@dataclass(frozen=True)
class Lateness:
    """When a submission came in against its deadline, and what the late policy takes off
    (``course.late_policy``); decided before grading, so it never depends on the score."""
    submitted_at: str  # ISO 8601 with its offset
    source: str  # where that time comes from (Gradescope's metadata, the roster, the file)
    due: str  # the student's due date (an extension's where one was granted)
    cutoff: str = ""  # nothing is accepted after it ("": no cutoff)
    late_seconds: float = 0.0  # 0 when on time
    grace_days: int = 0  # grace days this submission uses
    fraction: float = 0.0  # share of the earned score taken off; 1.0 after the cutoff
    how: str = ""  # the computation in words, for the student's page


@dataclass
class SubmissionResult:
    submission: str
    path: str
    checks: list[CheckResult] = field(default_factory=list)
    status: SubmissionStatus = SubmissionStatus.OK
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0
    fingerprint: str = ""  # what was graded, by which grader (see ``identity.grader_version``)
    signature: str = ""  # the code, normalised (see ``similarity.code_signature``)
    graded: bool = False  # whether any check ran against the loaded submission
    isolation: str = ""  # the isolation.Mode it was graded under: "root", "user", "uid" or "none"
    assignment: str = ""
    grader: dict[str, str] = field(default_factory=dict)  # what graded it (see ``identity.grader_identity``)
    students: list[RosterEntry] = field(default_factory=list)  # who handed it in (several: a group)
    late: Lateness | None = None  # with a course policy (``course.late_policy``)

    @property
    def score(self) -> float:
        """The raw score: what the checks earned, before any late penalty."""
        return round(sum(c.score for c in self.checks), 6)

    @property
    def penalty(self) -> float:
        """Points the late policy takes off the raw score."""
        return round(self.score * self.late.fraction, 6) if self.late else 0.0

    @property
    def final_score(self) -> float:
        """The score that counts: the raw score less the late penalty."""
        return round(self.score - self.penalty, 6)

    @property
    def max_score(self) -> float:
        return round(sum(c.points for c in self.checks), 6)

    @property
    def cpu(self) -> float:
        return sum(c.cpu for c in self.checks)


def atomic_write(path: str | os.PathLike[str], text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def markdown_message(message: str) -> str:
    """A check's message for Gradescope's Markdown output: in a code block that nothing inside
    can close, so columns line up and no text of a student's (an exception's message, a class
    name) is read as a heading, link, image or HTML."""
    if not message or message == "Passed.":
        return message
    return text.markdown_code_block(message)


_BLOCK = re.compile(r"(`{3,})\n(.*)\n\1", re.S)


def plain_message(markdown: str) -> str:
    """``markdown_message`` undone: the message as the check wrote it."""
    block = _BLOCK.fullmatch(markdown)
    return block.group(2) if block else markdown


def to_json(result: SubmissionResult, manual: dict[str, str] | None = None) -> dict[str, Any]:
    """Gradescope's results.json: one test per check; hidden checks' details wait for
    publication (``after_published``) while their score counts from the start. ``manual``:
    the written questions graded by hand, {id: what it asks}, named in the output."""
    tests = []
    for i, c in enumerate(result.checks, 1):
        tests.append({
            # The check's own name, stable across wording changes (what it tests, in words, is
            # ``extra_data``'s "doc", on the feedback page).
            "name": f"Task {c.task} ({c.function}): {c.name}",
            "number": str(i),
            "score": c.score,
            "max_score": c.points,
            "status": CheckStatus.PASSED if c.score == c.points else CheckStatus.FAILED,
            "visibility": "after_published" if c.hidden else "visible",
            "output": markdown_message(c.output),
            "output_format": "md",
            "tags": [f"task {c.task}", c.function] + (["timeout"] if c.status == CheckStatus.TIMEOUT else []),
        })
    output = "\n".join(result.messages + ([NO_SANDBOX_NOTE] if result.isolation == Mode.NONE else []))
    if manual:
        listed = ", ".join(f"{q} ({text})" for q, text in manual.items())
        output = (output + "\n" if output else "") + f"Written answers are graded by hand: {listed}."
    if result.late and result.late.fraction:
        output = (output + "\n" if output else "") + (
            f"Late penalty: {result.penalty:g} of {result.score:g} points ({result.late.how}). Score: "
            f"{result.final_score:g}.")
    return {
        "score": result.final_score,  # Gradescope takes this over the tests' sum
        "execution_time": round(result.seconds, 3),
        "output": output,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        # The rest of the record: enough to resume a batch and to redraw every page.
        "extra_data": {"format": FORMAT, "assignment": result.assignment, "submission": result.submission,
                       "status": result.status, "max_score": result.max_score, "graded": result.graded,
                       "isolation": result.isolation, "fingerprint": result.fingerprint, "grader": result.grader,
                       "messages": result.messages,
                       "student_cpu_seconds": round(result.cpu, 3), "code_signature": result.signature,
                       "students": [asdict(s) for s in result.students],
                       "late": asdict(result.late) if result.late else None,
                       "raw_score": result.score, "late_penalty": result.penalty,
                       "checks": [{"name": c.name, "task": c.task, "function": c.function, "status": c.status,
                                   "seconds": round(c.seconds, 3), "cpu": round(c.cpu, 4), "doc": c.doc,
                                   "figures": [_finite_figure(f) for f in c.figures]} for c in result.checks]},
    }


def _finite_figure(record: dict[str, Any]) -> dict[str, Any]:
    """A plot's data with NaN and inf as null: results.json stays strict JSON."""
    def clean(v: Any) -> Any:
        return v if isinstance(v, (int, float)) and math.isfinite(v) else None
    return {**record, "series": {k: [clean(v) for v in vs] for k, vs in record.get("series", {}).items()}}


def _typed(kind: Any, fields: Any) -> Any:
    """``kind(**fields)`` when every field has its declared type (a float field takes an int);
    TypeError otherwise. A results.json may have been written by anyone."""
    if not isinstance(fields, dict):
        raise TypeError(f"{kind.__name__} is not an object")
    for f in dataclasses.fields(kind):
        value = fields.get(f.name, f.default)
        want: Any = (int, float) if f.type is float else f.type
        if isinstance(value, bool) or not isinstance(value, want) or (want is not str and not math.isfinite(value)):
            raise TypeError(f"{kind.__name__}.{f.name} is {type(value).__name__}")
    if kind is Lateness and not 0 <= fields.get("fraction", 0) <= 1:
        raise TypeError("Lateness.fraction is not between 0 and 1")
    return kind(**fields)


def from_json(data: dict[str, Any], path: str = "") -> SubmissionResult:
    """The record ``to_json`` wrote. Raises ValueError when ``data`` is not one."""
    try:
        extra = data["extra_data"]
        if extra.get("format") != FORMAT:
            raise ValueError(f"written by another version of the grader (format {extra.get('format')!r})")
        result = SubmissionResult(extra["submission"], path, status=SubmissionStatus(extra["status"]),
                                  messages=list(extra["messages"]),
                                  seconds=float(data["execution_time"]), fingerprint=extra["fingerprint"],
                                  signature=extra["code_signature"], graded=bool(extra["graded"]),
                                  isolation=extra["isolation"], assignment=extra["assignment"],
                                  grader=dict(extra["grader"]),
                                  students=[_typed(RosterEntry, s) for s in extra.get("students", [])],
                                  late=_typed(Lateness, extra["late"]) if extra.get("late") else None)
        for test, c in zip(data["tests"], extra["checks"], strict=True):
            result.checks.append(CheckResult(
                c["name"], c["task"], c["function"], float(test["max_score"]), float(test["score"]),
                test["visibility"] != "visible", plain_message(test["output"]), CheckStatus(c["status"]),
                float(c["seconds"]),
                float(c["cpu"]), list(c["figures"]), c["doc"]))
        return result
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"not a results.json of this grader ({type(e).__name__}: {text.line(e, 200)})") from None


def write(result: SubmissionResult, out_dir: str | os.PathLike[str], manual: dict[str, str] | None = None
          ) -> SubmissionResult:
    """``out_dir/<submission>/results.json``, replaced atomically. Returns the record as it
    reads back from the file (times rounded, plots' NaN as null): pages drawn from it are the
    pages ``autograder report`` draws from the file later."""
    text = json.dumps(to_json(result, manual), indent=2, allow_nan=False)
    atomic_write(Path(out_dir) / result.submission / RESULTS, text)
    return from_json(json.loads(text), result.path)


MAX_RESULTS_BYTES = 64 << 20  # a results.json is tens of kB; messages are capped when written


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def read(path: str | os.PathLike[str]) -> SubmissionResult:
    """One results.json; OSError or ValueError when it cannot be read as one. The output folder
    may hold anything (a run without isolation lets student code write there): a link, a pipe,
    gigabytes, nesting that would exhaust the stack; each is a ValueError or OSError here."""
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if st.st_size > MAX_RESULTS_BYTES:
            raise ValueError(f"{st.st_size >> 20} MiB is more than a results.json holds")
        raw = os.read(fd, MAX_RESULTS_BYTES + 1)
    finally:
        os.close(fd)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    result = from_json(data, str(path.parent))
    if result.submission != path.parent.name:
        raise ValueError(f"it is the result of {text.line(result.submission, 100)!r}, not of its folder's submission")
    return result



def read_folder(out_dir: str | os.PathLike[str]) -> tuple[list[SubmissionResult], list[str]]:
    """Every results.json directly under ``out_dir``'s submission folders: the results, by
    submission name, and a line for each file that could not be read."""
    found: list[SubmissionResult] = []
    problems: list[str] = []
    for path in sorted(Path(out_dir).glob(f"*/{RESULTS}")):
        try:
            found.append(read(path))
        except (OSError, ValueError) as e:
            problems.append(f"{path}: {e}")
    return found, problems
