"""Write what grading found: results.json per submission (Gradescope's schema), grades.csv,
progress output while a batch runs and a summary at its end."""
import csv
import json
import os
import sys
import tempfile
from pathlib import Path

GRADEBOOK = "grades.csv"
NO_SANDBOX_NOTE = ("Graded without isolation (--no-sandbox): the submission's code ran as the grader's user, "
                   "able to read and change what that user can.")


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


def markdown_message(text):
    """A check's message for Gradescope's Markdown output: prose stays prose, the detail
    (numbers, tracebacks) goes in a code block so columns line up."""
    if not text or text == "Passed.":
        return text
    first, _, rest = text.partition("\n")
    return first + ("\n\n```\n" + rest.replace("```", "'''") + "\n```" if rest.strip() else "")


def results_json(result, assignment=None):
    """Gradescope's results.json: one test per check; hidden checks' details wait for
    publication (``after_published``) while their score counts from the start."""
    tests = []
    for i, c in enumerate(result.checks, 1):
        tests.append({
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
    if assignment is not None and assignment.manual:
        manual = ", ".join(f"{q} ({text})" for q, text in assignment.manual.items())
        output = (output + "\n" if output else "") + f"Written answers are graded by hand: {manual}."
    return {
        "score": result.score,
        "execution_time": round(result.seconds, 3),
        "output": output,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        # Enough to rebuild the result when a batch is resumed (see ``read_results``).
        "extra_data": {"status": result.status, "max_score": result.max_score, "graded": result.graded,
                       "sandbox": result.sandbox,
                       "fingerprint": result.fingerprint, "messages": result.messages,
                       "student_cpu_seconds": round(result.cpu, 3), "code_signature": result.signature,
                       "checks": [[c.name, c.task, c.function, c.status, round(c.seconds, 3), round(c.cpu, 4)]
                                  for c in result.checks]},
    }


def write_results(result, out_dir, assignment=None):
    path = Path(out_dir) / result.submission / "results.json"
    atomic_write(path, json.dumps(results_json(result, assignment), indent=2))
    return path


def read_results(out_dir, name, fingerprint):
    """The result recorded for submission ``name`` by an earlier run with the same
    fingerprint (same files, same grader), or None: then it must be graded (again)."""
    from .grade import CheckResult, SubmissionResult
    path = Path(out_dir) / name / "results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        extra = data["extra_data"]
        if not fingerprint or extra.get("fingerprint") != fingerprint:
            return None
        result = SubmissionResult(name, "", status=extra["status"], messages=list(extra["messages"]),
                                  seconds=float(data["execution_time"]), fingerprint=fingerprint,
                                  signature=extra.get("code_signature", ""), graded=bool(extra["graded"]),
                                  sandbox=extra["sandbox"])
        for test, (check, task, function, status, seconds, cpu) in zip(data["tests"], extra["checks"], strict=True):
            result.checks.append(CheckResult(check, task, function, test["max_score"], test["score"],
                                             test["visibility"] != "visible", test["output"], status, seconds, cpu))
        return result
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_gradebook(results, out_dir, assignment):
    """grades.csv: one row per submission, total then one column per task."""
    tasks = list(dict.fromkeys(c.task for c in assignment.checks))
    rows = []
    for r in sorted(results, key=lambda r: r.submission):
        per_task = {t: 0.0 for t in tasks}
        for c in r.checks:
            per_task[c.task] += c.score
        rows.append([r.submission, r.score, r.max_score, r.status] + [round(per_task[t], 6) for t in tasks])
    from io import StringIO
    buf = StringIO()
    w = csv.writer(buf)
    w.writerow(["submission", "score", "max_score", "status"] + [f"task_{t}" for t in tasks])
    w.writerows(rows)
    path = Path(out_dir) / GRADEBOOK
    atomic_write(path, buf.getvalue())
    return path


class progress:
    """A tqdm bar with the last submission's score; quiet when disabled."""

    def __init__(self, total, enabled=True):
        self.bar = None
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="sub", file=sys.stderr, dynamic_ncols=True)

    def update(self, result):
        if self.bar is not None:
            self.bar.set_postfix_str(f"{result.submission}: {result.score:g}/{result.max_score:g} {result.status}")
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def reason(result):
    """Why a submission could not be graded, in the words of its results.json."""
    return result.messages[0].split("\n")[0] if result.messages else "it did not load"


def print_summary(results, seconds, file=None, resumed=0, listed=20, mode="", full=True):
    """Counts and wall time; every submission when there are few, otherwise the slowest ones
    and those that did not grade cleanly; then, always (even when not ``full``), every
    submission that could not be graded, with the reason its results.json gives."""
    file = file or sys.stderr  # looked up now: the caller may have redirected it
    if full:
        counts = {s: sum(r.status == s for r in results) for s in ("ok", "error", "timeout")}
        fresh = len(results) - resumed
        print(f"Graded {fresh} submission(s) in {seconds:.1f} s"
              + (f" ({seconds / fresh:.3f} s each)" if fresh else "")
              + (f", {resumed} kept from an earlier run" if resumed else "")
              + f": {counts['ok']} ok, {counts['error']} error, {counts['timeout']} timeout", file=file)
        if mode == "none":
            print(NO_SANDBOX_NOTE, file=file)

        def line(r):
            print(f"  {r.submission:30s} {r.score:6g} / {r.max_score:g}  {r.status}  ({r.seconds:.1f} s)", file=file)

        if len(results) <= listed:
            for r in results:
                line(r)
        else:
            print("Slowest:", file=file)
            for r in sorted(results, key=lambda r: -r.seconds)[:5]:
                line(r)
            trouble = [r for r in results if r.status != "ok"]
            if trouble:
                print(f"Errors and timeouts ({len(trouble)}):", file=file)
                for r in trouble[:listed]:
                    line(r)
                if len(trouble) > listed:
                    print(f"  ... and {len(trouble) - listed} more (see grades.csv)", file=file)
    ungraded = sorted((r for r in results if not r.graded), key=lambda r: r.submission)
    if ungraded:
        print(f"Could not be graded ({len(ungraded)}):", file=file)
        for r in ungraded:
            print(f"  {r.submission}: {reason(r)}", file=file)


# -- manually graded parts, for TAs -------------------------------------------------------------------

MANUAL_MARKER = "graded by hand"


def manual_parts(nb):
    """The written answers (markdown cells of questions graded by hand) and every plot."""
    import nbformat
    keep = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and MANUAL_MARKER in cell.source.lower():
            keep.append(cell)
        elif cell.cell_type == "code" and any("image/png" in o.get("data", {}) for o in cell.get("outputs", [])):
            keep.append(cell)
    out = nbformat.v4.new_notebook(metadata=nb.metadata)
    out.cells = keep
    return out


def export_for_tas(notebook_path, out_dir, title=None):
    """A PDF per submission with otter's LaTeX export where xelatex exists; otherwise a
    self-contained HTML page (plots inline). Returns the written path."""
    import shutil as _shutil

    import nbformat
    nb = manual_parts(nbformat.read(notebook_path, as_version=4))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = title or Path(notebook_path).stem
    if _shutil.which("xelatex") and _shutil.which("pandoc"):
        from otter.export import export_notebook
        tmp = out_dir / f".{stem}.ipynb"
        nbformat.write(nb, tmp)
        try:
            export_notebook(str(tmp), dest=str(out_dir / f"{stem}.pdf"), exporter_type="latex")
            return out_dir / f"{stem}.pdf"
        finally:
            tmp.unlink(missing_ok=True)
    from nbconvert import HTMLExporter
    html, _ = HTMLExporter(exclude_input=False).from_notebook_node(nb, resources={"metadata": {"name": stem}})
    path = out_dir / f"{stem}.html"
    atomic_write(path, html)
    return path
