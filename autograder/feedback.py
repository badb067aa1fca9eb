"""Feedback people look at: a self-contained HTML page per submission, and a class summary.

Per submission (``write_student_page``, beside results.json): score per task, every visible
check's verdict and message, and the plots checks attach with ``sub.plot`` (the student's loss
curve against the reference's, gradient errors per parameter, the MNIST study). Hidden checks
show their task and score only: no name, message or plot.

Per batch (``write_class_summary``): summary.html plus PNG charts: score distribution, pass
rate of every check, the slowest submissions, errors and timeouts, and groups of submissions
whose code is identical after normalising names, whitespace, comments and docstrings (a hint
for a human to look at, not a verdict).

Images are PNGs drawn with matplotlib's Agg canvas (no pyplot state, so threads may draw) and
embedded as data URIs, so a page is one file that works offline.
"""
import ast
import base64
import collections
import hashlib
import html
import io
from pathlib import Path

from .report import atomic_write

PAGE = "feedback.html"
SUMMARY = "summary.html"
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; } td, th { border-bottom: 1px solid #ddd; padding: .3rem .5rem;
  text-align: left; vertical-align: top; }
.passed { color: #17633a; } .failed, .timeout, .crashed { color: #a4161a; } .hidden { color: #666; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
.score { font-size: 1.3rem; font-weight: bold; } img { max-width: 100%; }
"""


# -- drawing ---------------------------------------------------------------------------------------

def png(figure):
    """One figure record (see ``checks.Student.plot``) as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    series = figure.get("series", {})
    tall = figure.get("kind") == "barh"
    fig = Figure(figsize=(7.5, max(3.0, 0.22 * len(series) + 1)) if tall else (6.4, 3.4), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if tall:  # one row per label: long check names stay readable
        labels = list(series)[::-1]
        ax.barh(range(len(labels)), [series[k][0] if series[k] else 0.0 for k in labels], color="#1f77b4")
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
    elif figure.get("kind") == "bar":
        labels = list(series)
        values = [v[0] if isinstance(v, list) and v else (v if isinstance(v, (int, float)) else 0.0)
                  for v in series.values()]
        ax.bar(range(len(values)), values, color=["#1f77b4" if "ref" not in k else "#aaaaaa" for k in labels])
        ax.set_xticks(range(len(values)), labels, rotation=30, ha="right", fontsize=8)
    else:
        for label, values in series.items():
            style = {"linestyle": "--", "linewidth": 2} if "reference" in label else {"marker": "o", "markersize": 3}
            ax.plot(range(1, len(values) + 1), values, label=label, **style)
        if series:
            ax.legend(fontsize=7)
    if figure.get("logy"):
        ax.set_yscale("log")
    ax.set_title(figure.get("title", ""), fontsize=9)
    ax.set_xlabel(figure.get("xlabel", ""))
    ax.set_ylabel(figure.get("ylabel", ""))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _img(data, alt):
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


# -- per submission ---------------------------------------------------------------------------------

def markdown_message(text):
    """A check's message for Gradescope's Markdown output: prose stays prose, the detail
    (numbers, tracebacks) goes in a code block so columns line up."""
    if not text or text == "Passed.":
        return text
    first, _, rest = text.partition("\n")
    return first + ("\n\n```\n" + rest.replace("```", "'''") + "\n```" if rest.strip() else "")


def student_page(result, assignment):
    tasks = collections.OrderedDict()
    for c in result.checks:
        tasks.setdefault(c.task, []).append(c)
    rows = []
    for task, checks in tasks.items():
        got, total = sum(c.score for c in checks), sum(c.points for c in checks)
        title = assignment.tasks.get(task, "") if isinstance(assignment.tasks, dict) else ""
        rows.append(f"<tr><td>Task {html.escape(task)}</td><td>{html.escape(str(title))}</td>"
                    f"<td>{got:g} / {total:g}</td></tr>")
    parts = [f"<h1>{html.escape(assignment.name)}: feedback for {html.escape(result.submission)}</h1>",
             f'<p class="score">{result.score:g} / {result.max_score:g}</p>',
             f"<p>Status: {html.escape(result.status)}</p>"]
    if result.messages:
        parts.append("<h2>Notes</h2><pre>" + html.escape("\n".join(result.messages)) + "</pre>")
    parts.append("<h2>Score per task</h2><table><tr><th>task</th><th></th><th>score</th></tr>"
                 + "".join(rows) + "</table>")
    parts.append("<h2>Checks</h2>")
    for c in result.checks:
        verdict = "passed" if c.score == c.points else c.status if c.status != "passed" else "failed"
        if c.hidden:
            parts.append(f'<div class="check hidden"><h3>Hidden check (task {html.escape(c.task)})</h3>'
                         f"<p>{c.score:g} / {c.points:g}. Details are shown when grades are published.</p></div>")
            continue
        parts.append(f'<div class="check"><h3 class="{verdict}">Task {html.escape(c.task)}, '
                     f"{html.escape(c.function)}: {html.escape(c.name)}: {verdict} ({c.score:g} / {c.points:g})</h3>")
        if c.output and c.output != "Passed.":
            parts.append("<pre>" + html.escape(c.output) + "</pre>")
        for fig in c.figures:
            parts.append(_img(png(fig), fig.get("title", "plot")))
        parts.append("</div>")
    if assignment.manual:
        parts.append("<h2>Graded by hand</h2><ul>" + "".join(
            f"<li>{html.escape(q)}: {html.escape(t)}</li>" for q, t in assignment.manual.items()) + "</ul>")
    return _document(f"Feedback: {result.submission}", "\n".join(parts))


def _document(title, body):
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def write_student_page(result, out_dir, assignment):
    path = Path(out_dir) / result.submission / PAGE
    atomic_write(path, student_page(result, assignment))
    return path


# -- similar code --------------------------------------------------------------------------------------

class _Normalise(ast.NodeTransformer):
    """Rename every identifier the code defines (functions, classes, arguments, variables) to
    its order of first appearance, and drop docstrings; library names stay as they are."""

    def __init__(self):
        self.names = {}

    def _name(self, name):
        return self.names.setdefault(name, f"v{len(self.names)}")

    def _strip_docstring(self, node):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]

    def visit_FunctionDef(self, node):
        node.name = self._name(node.name)
        self._strip_docstring(node)
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        node.name = self._name(node.name)
        self._strip_docstring(node)
        return self.generic_visit(node)

    def visit_arg(self, node):
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store) or node.id in self.names:
            node.id = self._name(node.id)
        return node


def code_signature(path):
    """A digest of the submission's code with names, whitespace, comments and docstrings
    normalised; empty when it cannot be parsed (parsing never runs any of it)."""
    from .runtime import loader
    try:
        trees = []
        for src in loader.read_cells(path):
            tree, err = loader.parse_cell(loader.strip_magics(src))
            if tree is not None:
                trees.append(tree)
        module = ast.Module(body=[s for t in trees for s in t.body], type_ignores=[])
        _Normalise().visit(module)
        if not module.body:
            return ""
        return hashlib.sha256(ast.dump(module).encode()).hexdigest()[:16]
    except Exception:  # noqa: BLE001 - a hint only: never fail grading over it
        return ""


def similar_groups(results, stub_signature=""):
    """Groups (of two or more) of submissions with the same code signature, largest first;
    copies of the unchanged stub are left out."""
    groups = collections.defaultdict(list)
    for r in results:
        if r.signature and r.signature != stub_signature:
            groups[r.signature].append(r.submission)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))


# -- per batch ---------------------------------------------------------------------------------------

def _chart_scores(results, max_score):
    return png({"kind": "bar", "title": f"Score distribution ({len(results)} submissions)",
                "series": _histogram([r.score for r in results], max_score), "ylabel": "submissions"})


def _histogram(scores, max_score):
    counts = collections.Counter(round(s) for s in scores)
    top = int(round(max_score))
    return {str(s): [float(counts.get(s, 0))] for s in range(0, top + 1)}


def pass_rates(results):
    """check name -> (task, hidden, share of submissions that earned it in full)."""
    rates = collections.OrderedDict()
    for r in results:
        for c in r.checks:
            task, hidden, passed, n = rates.get(c.name, (c.task, c.hidden, 0, 0))
            rates[c.name] = (task, hidden, passed + (c.score == c.points), n + 1)
    return {k: (task, hidden, passed / n) for k, (task, hidden, passed, n) in rates.items()}


def write_class_summary(results, out_dir, assignment, stub_signature=""):
    """summary.html, score_distribution.png and check_pass_rates.png in ``out_dir``."""
    out_dir = Path(out_dir)
    results = sorted(results, key=lambda r: r.submission)
    max_score = max((r.max_score for r in results), default=assignment.total)
    rates = pass_rates(results)
    charts = {
        "score_distribution.png": _chart_scores(results, max_score),
        "check_pass_rates.png": png({"kind": "barh", "title": "Share of submissions passing each check",
                                     "series": {f"{t} {k[5:] if k.startswith('test_') else k}": [100 * p]
                                                for k, (t, _, p) in rates.items()},
                                     "xlabel": "% passed"}),
    }
    for name, data in charts.items():
        tmp = out_dir / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(out_dir / name)
    n = len(results)
    scores = sorted(r.score for r in results)
    mean = sum(scores) / n if n else 0.0
    median = (scores[(n - 1) // 2] + scores[n // 2]) / 2 if n else 0.0
    parts = [f"<h1>{html.escape(assignment.name)}: class summary</h1>",
             f"<p>{n} submissions; mean {mean:.2f}, median {median:g} of {max_score:g}; "
             f"{sum(r.status == 'error' for r in results)} errors, "
             f"{sum(r.status == 'timeout' for r in results)} timeouts.</p>",
             "<h2>Score distribution</h2>", _img(charts["score_distribution.png"], "score distribution"),
             "<h2>Pass rate of every check</h2>", _img(charts["check_pass_rates.png"], "check pass rates"),
             "<table><tr><th>task</th><th>check</th><th>visibility</th><th>passed</th></tr>"]
    for name, (task, hidden, p) in sorted(rates.items(), key=lambda kv: kv[1][2]):
        parts.append(f"<tr><td>{html.escape(task)}</td><td>{html.escape(name)}</td>"
                     f"<td>{'hidden' if hidden else 'visible'}</td><td>{100 * p:.0f}%</td></tr>")
    parts.append("</table><h2>Slowest submissions</h2><table><tr><th>submission</th><th>seconds</th>"
                 "<th>CPU in student code</th><th>score</th></tr>")
    for r in sorted(results, key=lambda r: -r.seconds)[:10]:
        parts.append(f"<tr><td>{html.escape(r.submission)}</td><td>{r.seconds:.2f}</td><td>{r.cpu:.2f}</td>"
                     f"<td>{r.score:g}</td></tr>")
    parts.append("</table><h2>Errors and timeouts</h2>")
    trouble = [r for r in results if r.status != "ok"]
    if trouble:
        parts.append("<table><tr><th>submission</th><th>status</th><th>what happened</th></tr>")
        for r in trouble:
            parts.append(f"<tr><td>{html.escape(r.submission)}</td><td>{html.escape(r.status)}</td>"
                         f"<td><pre>{html.escape(chr(10).join(r.messages)[:600])}</pre></td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>None.</p>")
    groups = similar_groups(results, stub_signature)
    parts.append("<h2>Identical code after normalisation</h2><p>Same code once names, whitespace, comments "
                 "and docstrings are normalised: a hint for a closer look, not a verdict.</p>")
    parts.append("<ul>" + "".join(f"<li>{html.escape(', '.join(g))}</li>" for g in groups) + "</ul>"
                 if groups else "<p>None.</p>")
    path = out_dir / SUMMARY
    atomic_write(path, _document(f"{assignment.name}: class summary", "\n".join(parts)))
    return path
