"""Charts for the feedback pages, drawn with matplotlib (the course's own plotting tool).

Lean use: a ``matplotlib.figure.Figure`` rendered by the Agg backend, never pyplot (no global
state, no GUI, safe in threads), fixed margins rather than a layout engine where the labels
are short. Every function returns PNG bytes with no timestamp or version in them, so the same
data always gives the same file (``autograder report`` rebuilds identical pages).
"""
import io
import math

WIDTH, HEIGHT, DPI = 6.8, 3.2, 90
LABEL_CHARS = 66  # of a check's words beside its pass-rate bar (4 inches at 7 points)
REFERENCE_STYLE = {"color": "0.6", "linewidth": 4, "alpha": 0.6, "zorder": 1}


def _figure(title="", xlabel="", ylabel="", height=HEIGHT, left=0.75, width=WIDTH):
    """A figure with one axes; margins fixed in inches whatever the height (room for the
    title above, the tick labels and axis label below, ``left`` for the y tick labels).
    Title and axis labels are figure texts at fixed places: ``Axes.set_title`` and
    ``set_xlabel`` measure every tick label to place themselves, half of the drawing time."""
    from matplotlib.figure import Figure
    import textwrap
    title = "\n".join(textwrap.wrap(title[:160], 90)[:2])
    top, bottom, right = 0.25 + 0.17 * (title.count("\n") + 1), 0.55, 0.2  # inches
    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height)
    middle = (left + width - right) / 2 / width
    fig.text(0.5, 1 - top / 2 / height, title, ha="center", va="center", fontsize=10)
    fig.text(middle, 0.06 / height, xlabel, ha="center", va="bottom")
    fig.text(0.04 / width, (1 - top / height + bottom / height) / 2, ylabel, rotation=90, ha="left", va="center")
    return fig, fig.add_subplot()


def _png(fig):
    buf = io.BytesIO()
    # Fast zlib level: a third of the encoding time for files a quarter larger.
    fig.savefig(buf, format="png", metadata={"Software": None}, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def _plain_log_ticks(axis, values):
    """Log-axis ticks labelled "100", "0.01", "1e-05" rather than in mathtext (whose parser
    took an eighth of the drawing time), and no minor ticks (a third of it) unless the data
    span less than a decade: then the minor ticks are the only ones, and are labelled."""
    from matplotlib.ticker import NullLocator, StrMethodFormatter  # here: a grader draws no chart
    axis.set_major_formatter(StrMethodFormatter("{x:g}"))
    shown = [v for v in values if not math.isnan(v)]
    if shown and max(shown) >= 10 * min(shown):
        axis.set_minor_locator(NullLocator())
    else:
        axis.set_minor_formatter(StrMethodFormatter("{x:.2g}"))


def _finite(values, log):
    """The values as floats, NaN where matplotlib cannot draw them (and the count of those)."""
    out, bad = [], 0
    for v in values:
        ok = isinstance(v, (int, float)) and math.isfinite(v) and (v > 0 or not log)
        out.append(float(v) if ok else math.nan)
        bad += not ok
    return out, bad


def _base(label):
    """The series a label belongs to: "yours 32,0.1" and "reference 32,0.1" share a colour."""
    return label.replace("yours", "").replace("reference", "").strip()


def figure_png(record: dict) -> bytes:
    """One plot a check recorded (``checks.Student.plot``): ``{"title", "kind", "xlabel",
    "ylabel", "logy", "series": {label: [numbers]}}``. "line": a curve per label against
    1, 2, ...; "bar": one horizontal bar per label. Reference series are drawn grey and wide,
    under the student's; values that cannot be drawn (NaN, inf, <= 0 on a log scale) are
    counted in the legend rather than dropped silently."""
    series = record.get("series") or {}
    log = bool(record.get("logy"))
    if record.get("kind") in ("bar", "barh"):
        return _bars(record, series, log)
    fig, ax = _figure(record.get("title", ""), record.get("xlabel", ""), record.get("ylabel", ""))
    colours: dict = {}
    drawn = []
    for label, values in sorted(series.items(), key=lambda kv: "reference" not in kv[0]):  # references under
        ys, bad = _finite(values, log)
        drawn += ys
        colour = colours.setdefault(_base(label), f"C{len(colours) % 10}")
        shown = label + (f" ({bad} not drawn: not finite{' or <= 0' if log else ''})" if bad else "")
        xs = range(1, len(ys) + 1)
        if "reference" in label:
            ax.plot(xs, ys, label=shown, **{**REFERENCE_STYLE, **({"color": colour} if _base(label) else {})})
        else:
            ax.plot(xs, ys, label=shown, color=colour, linewidth=1.5, marker="o" if len(ys) <= 30 else None,
                    markersize=3, zorder=2)
    if log:
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis, drawn)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(loc="upper right", fontsize=8)
    return _png(fig)


def _bars(record, series, log):
    labels = list(series)
    values, _ = _finite([v[0] if isinstance(v, list) and v else v for v in series.values()], log)
    fig, ax = _figure(record.get("title", ""), record.get("ylabel") or record.get("xlabel", ""),
                      height=max(HEIGHT, 0.9 + 0.28 * len(labels)), left=2.0)
    colours = ["0.6" if "reference" in k else "C0" for k in labels]
    rows = range(len(labels))
    ax.barh(rows, [0 if math.isnan(v) else v for v in values], color=colours)
    for row, v in zip(rows, values):
        if math.isnan(v):  # no bar to label: say so at the axis (x in axes units, y in rows)
            ax.annotate("not finite" + (" or <= 0" if log else ""), (0, row), xycoords=ax.get_yaxis_transform(),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=8, color="C3")
        else:
            ax.annotate(f"{v:.3g}", (v, row), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(list(rows), [k[:40] for k in labels], fontsize=8)
    ax.invert_yaxis()  # first label on top, as the check listed them
    if log:
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis, values)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def score_distribution(scores: list[float], max_score: float) -> bytes:
    """How many submissions earned each whole score, 0 to ``max_score`` (a score of 12.5 is
    counted with 12)."""
    from matplotlib.ticker import MaxNLocator
    top = max(1, math.ceil(max_score))
    fig, ax = _figure(f"Score distribution ({len(scores)} submissions)", f"score (of {max_score:g})", "submissions",
                      left=0.6)
    ax.hist([min(max(math.floor(s), 0), top) for s in scores], bins=[b - 0.5 for b in range(top + 2)],
            color="C0", edgecolor="white")
    ax.set_xlim(-0.5, top + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def pass_rates(labels: list[str], percents: list[float]) -> bytes:
    """One bar per check: the share of submissions that earned its points in full, on a
    0 to 100 % axis; the labels are the checks in words (cut at LABEL_CHARS)."""
    fig, ax = _figure("", "submissions earning the check's points in full",
                      height=max(1.5, 0.9 + 0.22 * len(labels)), left=4.1, width=WIDTH + 3)
    rows = range(len(labels))
    ax.barh(rows, percents, color=["C2" if p >= 50 else "C3" for p in percents])
    for row, p in zip(rows, percents):
        ax.annotate(f"{p:.0f} %", (p, row), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    ax.set_yticks(list(rows), [lb if len(lb) <= LABEL_CHARS else lb[:LABEL_CHARS - 1] + "…" for lb in labels],
                  fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 108)  # room for the "100 %" label
    ax.set_xticks(range(0, 101, 20), [f"{p} %" for p in range(0, 101, 20)])
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)
