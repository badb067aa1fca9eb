"""Pages people read: one per submission (feedback.html beside its results.json) and a class
summary (summary.html). Made from ``results.SubmissionResult`` records alone, through the
jinja2 templates in ``file_templates/pages/`` (autoescaped) and charts from ``charts``; a page is
one self-contained file (its PNGs embedded) that works offline.

The student page has a section per task: its score; each visible check as one line in words
(its docstring's first line) with a tick or a cross, and for a failure the message and its
plots; the task's hidden checks as one line (how many, the points earned, never what they
test). The class summary: score distribution, pass rate of every check, links to every page,
what could not be graded and why, the slowest submissions, groups of identical code.
"""
import base64
import statistics
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from . import charts, similarity, templating
from .isolation import POLICIES, Mode
from .results import NO_SANDBOX_NOTE, CheckResult, CheckStatus, SubmissionResult, SubmissionStatus, atomic_write

MODES = {m.value for m in Mode}

PAGE = "feedback.html"
SUMMARY = "summary.html"
VERDICTS = {CheckStatus.PASSED: "passed", CheckStatus.FAILED: "failed",
            CheckStatus.TIMEOUT: "stopped by the time limit", CheckStatus.CRASHED: "did not finish"}
SLOWEST = 10


def render(template: str, **values) -> str:
    """A page from ``file_templates/pages/`` (autoescaped: every value is HTML-escaped)."""
    return templating.render(f"pages/{template}", **values)


def _num(x: float) -> str:
    return f"{x:g}"


def passed(c: CheckResult) -> bool:
    return c.score == c.points


def words(c: CheckResult) -> str:
    """A check in plain words: its docstring's first line (its name when it has none)."""
    return c.doc or c.name.removeprefix("test_").replace("_", " ")


def status_words(r: SubmissionResult) -> str:
    """The submission's state as a student reads it."""
    if not r.graded:
        return f"Could not be loaded: {r.messages[0].split(chr(10))[0] if r.messages else 'no reason was recorded'}"
    stopped = sum(c.status == CheckStatus.TIMEOUT for c in r.checks)
    if r.status == SubmissionStatus.TIMEOUT:
        return (f"Graded; stopped by the time limit in {stopped} check{'s' * (stopped != 1)}" if stopped
                else "Graded until the time budget ran out: see the notes")
    if r.status == SubmissionStatus.ERROR:
        return "Graded, but part of the notebook could not be loaded: see the notes"
    return "Graded"


# -- per submission ---------------------------------------------------------------------------------

@dataclass
class TaskSection:
    id: str
    function: str
    checks: list = field(default_factory=list)  # CheckResult, visible and hidden
    visible: list = field(default_factory=list)  # the visible checks' lines (``_check_line``)

    def _sum(self, what, hidden=None):
        return _num(round(sum(getattr(c, what) for c in self.checks if hidden is None or c.hidden == hidden), 6))

    score = property(lambda self: self._sum("score"))
    points = property(lambda self: self._sum("points"))
    hidden_score = property(lambda self: self._sum("score", True))
    hidden_points = property(lambda self: self._sum("points", True))
    hidden_count = property(lambda self: sum(c.hidden for c in self.checks))


def _check_line(c: CheckResult, said: set | frozenset = frozenset()) -> dict:
    """A visible check's line; ``said``: messages the page shows at its top already (a check
    that never ran repeats why, and is then marked "not run" rather than repeating it)."""
    ok = passed(c)
    repeated = c.output in said
    return {"passed": ok, "words": words(c), "verdict": "not run" if repeated else VERDICTS.get(c.status, c.status),
            "score": _num(c.score), "points": _num(c.points),
            "message": "" if ok or c.output == "Passed." or repeated else c.output,
            # Plots are drawn for failures only: they explain what went wrong, and drawing
            # one per passed check would cost more than the grading of it.
            "plots": [] if ok else [{"title": f.get("title", "plot"),
                                     "png": base64.b64encode(charts.figure_png(f)).decode()} for f in c.figures]}


def student_page(result: SubmissionResult, assignment) -> str:
    said = {m.split("\n")[0] for m in result.messages}
    sections: dict = {}
    for c in result.checks:
        section = sections.setdefault(c.task, TaskSection(c.task, assignment.tasks.get(c.task, c.function)))
        section.checks.append(c)
        if not c.hidden:
            section.visible.append(_check_line(c, said))
    status = status_words(result)
    notes = result.messages + ([NO_SANDBOX_NOTE] if result.isolation == Mode.NONE else [])
    if not result.graded and len(notes) == 1 and notes[0] in status:
        notes = []  # the status line says it all
    late = result.late and {"how": result.late.how, "source": result.late.source, "raw": _num(result.score),
                            "penalty": _num(result.penalty)}
    return render("student_page.html.j2", assignment=assignment.name, submission=result.submission,
                  score=_num(result.final_score), max_score=_num(result.max_score), status=status, late=late,
                  trouble=status != "Graded", notes=notes, tasks=list(sections.values()),
                  manual=list(assignment.manual.items()))


def write_student_page(result: SubmissionResult, out_dir, assignment) -> Path:
    path = Path(out_dir) / result.submission / PAGE
    atomic_write(path, student_page(result, assignment))
    return path


# -- per batch ---------------------------------------------------------------------------------------

def pass_rates(results: list[SubmissionResult]) -> dict:
    """check name -> (task, hidden, words, share of submissions that earned it in full)."""
    seen: dict = {}
    for r in results:
        for c in r.checks:
            task, hidden, text, ok, n = seen.get(c.name, (c.task, c.hidden, words(c), 0, 0))
            seen[c.name] = (task, hidden, text, ok + passed(c), n + 1)
    return {k: (task, hidden, text, ok / n) for k, (task, hidden, text, ok, n) in seen.items()}


def _link(name: str) -> str:
    return f"{urllib.parse.quote(name)}/{PAGE}"


def page_reason(r: SubmissionResult) -> str:
    """Why a submission did not grade cleanly: its state, or its first note when it loaded."""
    return r.messages[0].split("\n")[0] if r.graded and r.messages else status_words(r)


def _regrade(diff) -> dict | None:
    """The class summary's view of a ``regrade_diff.RegradeDiff``: the change per check."""
    if diff is None:
        return None
    pts = lambda x: "-" if x is None else _num(x)  # noqa: E731
    return {"old": str(diff.old_dir), "changed": len(diff.changes), "compared": diff.compared,
            "who": "students" if diff.by_student else "submissions",
            "checks": [{"task": c.task, "words": f"{c.words} ({c.name})", "old_points": pts(c.old_points),
                        "new_points": pts(c.new_points), "old_passed": c.old_passed, "new_passed": c.new_passed,
                        "lost": ", ".join(c.lost), "gained": ", ".join(c.gained), "changed": c.changed}
                       for c in diff.checks]}


def class_summary(results: list[SubmissionResult], assignment, stub_signature: str = "", diff=None) -> str:
    results = sorted(results, key=lambda r: r.submission)
    if not results:
        return render("class_summary.html.j2", assignment=assignment.name, rows=[])
    max_score = max(r.max_score for r in results)
    scores = [r.final_score for r in results]
    rates = pass_rates(results)
    ordered = sorted(rates.items(), key=lambda kv: kv[1][3])  # the hardest first
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    row = lambda r: {"name": r.submission, "link": _link(r.submission), "score": _num(r.final_score),  # noqa: E731
                     "max_score": _num(r.max_score), "status": status_words(r),
                     "seconds": f"{r.seconds:.2f}", "cpu": f"{r.cpu:.2f}"}
    return render(
        "class_summary.html.j2", assignment=assignment.name, rows=[row(r) for r in results],
        mean=f"{statistics.fmean(scores):.2f}", median=_num(statistics.median(scores)), max_score=_num(max_score),
        counts={"graded": sum(r.graded for r in results), "ungraded": sum(not r.graded for r in results),
                "timeout": sum(r.status == SubmissionStatus.TIMEOUT for r in results)},
        no_sandbox=NO_SANDBOX_NOTE if any(r.isolation == Mode.NONE for r in results) else "",
        isolation=sorted({POLICIES[Mode(r.isolation)].meaning for r in results
                          if r.isolation in MODES and r.isolation != Mode.NONE}),
        score_chart=b64(charts.score_distribution(scores, max_score)),
        # In the order the checks are declared (task by task), as the student pages list them.
        pass_chart=b64(charts.pass_rates([f"{t} {text}" + (" (hidden)" if h else "")
                                          for t, h, text, _ in rates.values()],
                                         [100 * p for *_, p in rates.values()])),
        checks=[{"task": t, "words": f"{text} ({name})", "visibility": "hidden" if h else "visible",
                 "percent": f"{100 * p:.0f}"} for name, (t, h, text, p) in ordered],
        errors=[{**row(r), "reason": page_reason(r)} for r in results if r.status != SubmissionStatus.OK],
        slowest=[row(r) for r in sorted(results, key=lambda r: (-r.seconds, r.submission))[:SLOWEST]],
        groups=similarity.similar_groups(results, stub_signature), regrade=_regrade(diff),
        late=[{**row(r), "raw": _num(r.score), "penalty": _num(r.penalty), "how": r.late.how}
              for r in results if r.late and r.late.late_seconds > 0])


def write_class_summary(results: list[SubmissionResult], out_dir, assignment, stub_signature: str = "",
                        diff=None) -> Path:
    path = Path(out_dir) / SUMMARY
    atomic_write(path, class_summary(results, assignment, stub_signature, diff))
    return path
