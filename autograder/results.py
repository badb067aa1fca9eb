"""The record of a graded submission: ``SubmissionResult`` and its checks, and results.json,
the one file that holds it (Gradescope's schema, with everything else in ``extra_data``).

Everything made from a graded batch (grades.csv, the student pages, the class summary) is
made from these records alone, so it can be rebuilt from the results.json files of a folder
(``read_folder``): after a resumed batch, or from several folders at once. Nothing here
imports the grader: this module is where data flows from grading to reporting.
"""
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = "results.json"
FORMAT = 2  # extra_data's layout; a results.json of another format is graded again
NO_SANDBOX_NOTE = ("Graded without isolation (--no-sandbox): the submission's code ran as the grader's user, "
                   "able to read and change what that user can.")


@dataclass
class CheckResult:
    name: str
    task: str
    function: str
    points: float
    score: float
    hidden: bool
    output: str
    status: str = "passed"  # passed, failed, timeout, crashed
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds spent in the submission's code (calls that returned)
    figures: list = field(default_factory=list)  # plot data for the feedback page (Student.plot)
    doc: str = ""  # the check in plain words: its docstring's first line


@dataclass
class SubmissionResult:
    submission: str
    path: str
    checks: list = field(default_factory=list)
    status: str = "ok"  # ok, error, timeout
    messages: list = field(default_factory=list)
    seconds: float = 0.0
    fingerprint: str = ""  # what was graded, by which grader (see ``grade.grader_version``)
    signature: str = ""  # the code, normalised (see ``similarity.code_signature``)
    graded: bool = False  # whether any check ran against the loaded submission
    sandbox: str = ""  # the isolation it was graded under: "root", "user" or "none"
    assignment: str = ""
    grader: dict = field(default_factory=dict)  # what graded it (see ``grade.grader_identity``)

    @property
    def score(self):
        return round(sum(c.score for c in self.checks), 6)

    @property
    def max_score(self):
        return round(sum(c.points for c in self.checks), 6)

    @property
    def cpu(self):
        return sum(c.cpu for c in self.checks)


def atomic_write(path, text):
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


def markdown_message(text: str) -> str:
    """A check's message for Gradescope's Markdown output: prose stays prose, the detail
    (numbers, tracebacks) goes in a code block so columns line up."""
    if not text or text == "Passed.":
        return text
    first, _, rest = text.partition("\n")
    return first + ("\n\n```\n" + rest.replace("```", "'''") + "\n```" if rest.strip() else "")


def plain_message(markdown: str) -> str:
    """``markdown_message`` undone: the message as the check wrote it."""
    first, sep, rest = markdown.partition("\n\n```\n")
    if sep and rest.endswith("\n```"):
        return first + "\n" + rest[: -len("\n```")]
    return markdown


def to_json(result: SubmissionResult, manual: dict | None = None) -> dict:
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
            "status": "passed" if c.score == c.points else "failed",
            "visibility": "after_published" if c.hidden else "visible",
            "output": markdown_message(c.output),
            "output_format": "md",
            "tags": [f"task {c.task}", c.function] + (["timeout"] if c.status == "timeout" else []),
        })
    output = "\n".join(result.messages + ([NO_SANDBOX_NOTE] if result.sandbox == "none" else []))
    if manual:
        listed = ", ".join(f"{q} ({text})" for q, text in manual.items())
        output = (output + "\n" if output else "") + f"Written answers are graded by hand: {listed}."
    return {
        "score": result.score,
        "execution_time": round(result.seconds, 3),
        "output": output,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        # The rest of the record: enough to resume a batch and to redraw every page.
        "extra_data": {"format": FORMAT, "assignment": result.assignment, "submission": result.submission,
                       "status": result.status, "max_score": result.max_score, "graded": result.graded,
                       "sandbox": result.sandbox, "fingerprint": result.fingerprint, "grader": result.grader,
                       "messages": result.messages,
                       "student_cpu_seconds": round(result.cpu, 3), "code_signature": result.signature,
                       "checks": [{"name": c.name, "task": c.task, "function": c.function, "status": c.status,
                                   "seconds": round(c.seconds, 3), "cpu": round(c.cpu, 4), "doc": c.doc,
                                   "figures": [_finite_figure(f) for f in c.figures]} for c in result.checks]},
    }


def _finite_figure(record: dict) -> dict:
    """A plot's data with NaN and inf as null: results.json stays strict JSON."""
    clean = lambda v: v if isinstance(v, (int, float)) and math.isfinite(v) else None  # noqa: E731
    return {**record, "series": {k: [clean(v) for v in vs] for k, vs in record.get("series", {}).items()}}


def from_json(data: dict, path: str = "") -> SubmissionResult:
    """The record ``to_json`` wrote. Raises ValueError when ``data`` is not one."""
    try:
        extra = data["extra_data"]
        if extra.get("format") != FORMAT:
            raise ValueError(f"written by another version of the grader (format {extra.get('format')!r})")
        result = SubmissionResult(extra["submission"], path, status=extra["status"], messages=list(extra["messages"]),
                                  seconds=float(data["execution_time"]), fingerprint=extra["fingerprint"],
                                  signature=extra["code_signature"], graded=bool(extra["graded"]),
                                  sandbox=extra["sandbox"], assignment=extra["assignment"],
                                  grader=dict(extra["grader"]))
        for test, c in zip(data["tests"], extra["checks"], strict=True):
            result.checks.append(CheckResult(
                c["name"], c["task"], c["function"], float(test["max_score"]), float(test["score"]),
                test["visibility"] != "visible", plain_message(test["output"]), c["status"], float(c["seconds"]),
                float(c["cpu"]), list(c["figures"]), c["doc"]))
        return result
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"not a results.json of this grader ({type(e).__name__}: {e})") from None


def write(result: SubmissionResult, out_dir, manual: dict | None = None) -> SubmissionResult:
    """``out_dir/<submission>/results.json``, replaced atomically. Returns the record as it
    reads back from the file (times rounded, plots' NaN as null): pages drawn from it are the
    pages ``autograder report`` draws from the file later."""
    text = json.dumps(to_json(result, manual), indent=2, allow_nan=False)
    atomic_write(Path(out_dir) / result.submission / RESULTS, text)
    return from_json(json.loads(text), result.path)


def read(path) -> SubmissionResult:
    """One results.json; OSError or ValueError when it cannot be read as one."""
    path = Path(path)
    return from_json(json.loads(path.read_text(encoding="utf-8")), str(path.parent))


def read_kept(out_dir, name: str, fingerprint: str) -> SubmissionResult | None:
    """The result recorded for submission ``name`` by an earlier run with the same
    fingerprint (same files, same grader), or None: then it must be graded (again)."""
    if not fingerprint:
        return None
    try:
        result = read(Path(out_dir) / name / RESULTS)
    except (OSError, ValueError):
        return None
    return result if result.fingerprint == fingerprint else None


def read_folder(out_dir) -> tuple[list[SubmissionResult], list[str]]:
    """Every results.json directly under ``out_dir``'s submission folders: the results, by
    submission name, and a line for each file that could not be read."""
    found, problems = [], []
    for path in sorted(Path(out_dir).glob(f"*/{RESULTS}")):
        try:
            found.append(read(path))
        except (OSError, ValueError) as e:
            problems.append(f"{path}: {e}")
    return found, problems
