"""Feedback people look at: a self-contained HTML page per submission, and a class summary.

Per submission (``write_student_page``, beside results.json): score per task, every visible
check's verdict and message, and the plots checks attach with ``sub.plot`` (the student's loss
curve against the reference's, gradient errors per parameter, the MNIST study). Hidden checks
show their task and score only: no name, message or plot.

Per batch (``write_class_summary``): summary.html plus PNG charts: score distribution, pass
rate of every check, the slowest submissions, errors and timeouts, and groups of submissions
whose code is identical after normalising names, whitespace, comments and docstrings (a hint
for a human to look at, not a verdict).

Images are PNGs (drawn with Pillow, see ``png``) embedded as data URIs, so a page is one file
that works offline.
"""
import ast
import base64
import collections
import hashlib
import html
import io
from pathlib import Path

from .report import NO_SANDBOX_NOTE, atomic_write

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
# Pages are drawn with Pillow (a matplotlib dependency) rather than matplotlib: a matplotlib
# figure costs about 100 ms, which for three plots per submission would double the time of a
# gradient_descent batch; these take a few milliseconds.

COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34)]
REFERENCE_COLOUR = (150, 150, 150)


def _font(size):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _finite(values, log):
    import math
    return [(i, v) for i, v in enumerate(values, 1)
            if isinstance(v, (int, float)) and math.isfinite(v) and (v > 0 or not log)]


def _ticks(lo, hi, log):
    import math
    if log:
        a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        step = max(1, (b - a) // 5)
        return [10.0 ** e for e in range(a, b + 1, step)], (10.0 ** a, 10.0 ** b)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    raw = (hi - lo) / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    first = math.floor(lo / step) * step
    ticks = [first + k * step for k in range(int((hi - first) / step) + 2)]
    return ticks, (ticks[0], ticks[-1])


def _fmt(v):
    return f"{v:.0e}" if v and (abs(v) >= 1e4 or abs(v) < 1e-2) else f"{v:g}"


def png(figure):
    """One figure record (see ``checks.Student.plot``) as PNG bytes: curves (``line``) or
    one horizontal bar per label (``bar``/``barh``), optional log scale."""
    import math

    from PIL import Image, ImageDraw
    series = figure.get("series", {})
    log = bool(figure.get("logy"))
    bars = figure.get("kind") in ("bar", "barh")
    small, normal = _font(11), _font(13)
    W = 680
    H = max(260, 40 + 18 * len(series) + 50) if bars else 320
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    d.text((W // 2, 6), figure.get("title", "")[:110], fill="black", font=normal, anchor="ma")
    if bars:
        labels = list(series)
        values = [v[0] if isinstance(v, list) and v else v for v in series.values()]
        left = 20 + min(240, max((d.textlength(str(k), font=small) for k in labels), default=0))
        x0, x1, y0, y1 = left + 8, W - 60, 30, H - 36
        good = [v for _, v in _finite(values, log)]
        if log:
            ticks, (lo, hi) = _ticks(min(good, default=1e-3), max(good, default=1), True)
        else:
            ticks, (lo, hi) = _ticks(min(0.0, *good) if good else 0.0, max(good, default=1.0), False)
        scale = (lambda v: (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))) if log else \
            (lambda v: (v - lo) / (hi - lo))
        for t in ticks:
            x = x0 + scale(t) * (x1 - x0)
            d.line([(x, y0), (x, y1)], fill=(230, 230, 230))
            d.text((x, y1 + 4), _fmt(t), fill="black", font=small, anchor="ma")
        row = (y1 - y0) / max(1, len(labels))
        for i, (label, v) in enumerate(zip(labels, values)):
            y = y0 + i * row
            colour = REFERENCE_COLOUR if "ref" in label else COLOURS[0]
            d.text((left, y + row / 2), str(label)[:40], fill="black", font=small, anchor="rm")
            if isinstance(v, (int, float)) and math.isfinite(v) and (v > 0 or not log):
                base = x0 + scale(max(lo, 0.0) if not log else lo) * (x1 - x0)
                end = x0 + scale(v) * (x1 - x0)
                d.rectangle([min(base, end), y + row * 0.15, max(base, end), y + row * 0.85], fill=colour)
                d.text((end + 4, y + row / 2), _fmt(v), fill="black", font=small, anchor="lm")
            else:
                d.text((x0 + 4, y + row / 2), f"{v!r}"[:20], fill=(164, 22, 26), font=small, anchor="lm")
        d.rectangle([x0, y0, x1, y1], outline="black")
        d.text(((x0 + x1) // 2, H - 16), figure.get("xlabel", "") or figure.get("ylabel", ""), fill="black",
               font=small, anchor="ma")
    else:
        x0, x1, y0, y1 = 70, W - 20, 30, H - 46
        points = {k: _finite(v, log) for k, v in series.items()}
        ys = [v for pts in points.values() for _, v in pts]
        n = max((len(v) for v in series.values()), default=1)
        ticks, (lo, hi) = _ticks(min(ys, default=1.0), max(ys, default=10.0), log)
        ty = (lambda v: (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))) if log else \
            (lambda v: (v - lo) / (hi - lo))
        px = lambda i: x0 + (i - 1) / max(1, n - 1) * (x1 - x0)  # noqa: E731
        py = lambda v: y1 - ty(v) * (y1 - y0)  # noqa: E731
        for t in ticks:
            d.line([(x0, py(t)), (x1, py(t))], fill=(230, 230, 230))
            d.text((x0 - 4, py(t)), _fmt(t), fill="black", font=small, anchor="rm")
        for i in sorted({1, n, *range(1, n + 1, max(1, n // 5))}):
            d.text((px(i), y1 + 4), str(i), fill="black", font=small, anchor="ma")
        ordered = sorted(points.items(), key=lambda kv: "reference" not in kv[0])  # references underneath
        # "yours 32,0.1" and "reference 32,0.1" share a colour; the reference is paler and wider.
        groups, colour_of = {}, {}
        for k in points:
            base = k.replace("yours", "").replace("reference", "").strip()
            colour = COLOURS[groups.setdefault(base, len(groups)) % len(COLOURS)]
            if "reference" in k:
                colour = tuple(c // 2 + 120 for c in colour) if base else REFERENCE_COLOUR
            colour_of[k] = colour
        for label, pts in ordered:
            xy = [(px(i), py(v)) for i, v in pts]
            colour = colour_of[label]
            if "reference" in label:
                if len(xy) > 1:
                    d.line(xy, fill=colour, width=5)
            else:
                if len(xy) > 1:
                    d.line(xy, fill=colour, width=2)
                for x, y in xy:
                    d.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=colour)
        d.rectangle([x0, y0, x1, y1], outline="black")
        d.text(((x0 + x1) // 2, H - 18), figure.get("xlabel", ""), fill="black", font=small, anchor="ma")
        d.text((6, y0 - 16), figure.get("ylabel", "") + (" (log scale)" if log else ""), fill="black", font=small)
        lx, ly = x1 - 8, y0 + 6
        width = max((d.textlength(k, font=small) for k in points), default=0)
        for label in points:
            d.line([(lx - width - 30, ly + 7), (lx - width - 10, ly + 7)], fill=colour_of[label],
                   width=5 if "reference" in label else 2)
            d.text((lx - width - 6, ly), label, fill="black", font=small)
            ly += 16
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _img(data, alt):
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


# -- per submission ---------------------------------------------------------------------------------

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
        "check_pass_rates.png": png({"kind": "bar", "title": "Share of submissions passing each check",
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
             *([f"<p><strong>{html.escape(NO_SANDBOX_NOTE)}</strong></p>"] if any(r.sandbox == "none" for r in results)
               else []),
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
