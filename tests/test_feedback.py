"""Feedback pages (feedback.py, charts.py, file_templates/pages/): what a student and an instructor
look for on them, and that they open in a browser without errors."""
import base64
import html
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
import variants
from PIL import Image

from autograder import assignments, batch, charts, feedback, similarity
from autograder.results import CheckResult, SubmissionResult

CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")
# Screenshots of every page type, kept for a reviewer to look at (not in git).
ARTEFACTS = Path(os.environ.get("AUTOGRADER_TEST_ARTEFACTS", Path(__file__).resolve().parents[1] / "test-artefacts"))
CRASH = "\n\ndef fit_GD(model, loss_func, X, Y, lr, num_epochs):\n    import os\n    os._exit(3)\n"


def images(page):
    """Every embedded image of a page, decoded and verified as PNG."""
    out = []
    for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page):
        raw = base64.b64decode(data)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        Image.open(io.BytesIO(raw)).verify()
        out.append(raw)
    return out


def alts(page):
    return [html.unescape(a) for a in re.findall(r'<img alt="([^"]*)"', page)]


def text_of(page):
    """The page's text as a reader sees it (tags dropped, entities decoded)."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def check_lines(page):
    """(mark, words) of every visible check line."""
    return [(m, html.unescape(w).strip()) for m, w in
            re.findall(r'<span class="mark" aria-label="[a-z]+">(.)</span>([^<]*)', page)]


@pytest.fixture(scope="module")
def pages(gd_batch):
    _, out = gd_batch
    return {p.parent.name: p.read_text() for p in out.glob("*/feedback.html")}


def hidden_checks(name):
    return [c for c in assignments.get(name).checks if c.hidden]


def assert_no_hidden_details(page, name):
    for c in hidden_checks(name):
        assert c.name not in page and (not c.doc or c.doc not in page), c.name


def assert_one_hidden_line_per_task(page, name):
    a = assignments.get(name)
    lines = re.findall(r"(\d+) hidden checks?, ([\d.]+) of ([\d.]+) points?; details when grades are published",
                       text_of(page))
    per_task = {}
    for c in hidden_checks(name):
        per_task[c.task] = per_task.get(c.task, 0) + 1
    assert [int(n) for n, _, _ in lines] == [per_task[t] for t in dict.fromkeys(c.task for c in a.checks)
                                             if t in per_task]


def test_every_submission_gets_a_page(gd_batch, pages):
    results, _ = gd_batch
    assert sorted(pages) == sorted(results)


def test_reference_page_has_a_section_per_task_with_checks_in_words(pages, gd):
    page = pages["reference"]
    text = text_of(page)
    assert "27 / 27" in text and "Graded" in text
    for task, function in gd.tasks.items():
        points = sum(c.points for c in gd.checks if c.task == task)
        assert f"Task {task}: {function} {points:g} / {points:g}" in text
    visible = [c.doc for c in gd.checks if not c.hidden]
    assert check_lines(page) == [("✓", doc) for doc in visible]
    assert "test_" not in text  # checks are named in words, not by their pytest names
    assert images(page) == []  # nothing failed: nothing to explain with a plot
    assert_one_hidden_line_per_task(page, "gradient_descent")
    assert_no_hidden_details(page, "gradient_descent")


def test_stub_page_points_at_the_cell_and_line_a_student_sees(pages, gd):
    page = pages["stub"]
    text = text_of(page)
    assert "0 / 27" in text and "NotImplementedError: Task 1.3: implement fit_GD" in text
    assert all(mark == "✗" for mark, _ in check_lines(page))
    nb = nbformat.read(gd.stub, as_version=4)
    cell, line = map(int, re.search(r"cell (\d+), line (\d+), in fit_GD", text).groups())
    source = nb.cells[cell - 1].source.split("\n")  # cells counted from 1, markdown included
    assert "def fit_GD" in nb.cells[cell - 1].source
    assert 'raise NotImplementedError("Task 1.3: implement fit_GD")' in source[line - 1]
    assert_no_hidden_details(page, "gradient_descent")


def test_buggy_page_shows_the_failing_message_and_its_plot(pages):
    page = pages["bug_epoch_loss_over_batch_size"]
    assert ("✗", "fit_BGD's losses on the handout's data match the reference (grader's model and loss, "
                 "batch size 10).") in check_lines(page)
    assert "fit_BGD losses: values are not close!" in page and "Greatest absolute difference" in page
    assert alts(page) == ["fit_BGD: loss per epoch on the handout's data (batch size 10)"]
    assert len(images(page)) == 1
    assert_no_hidden_details(page, "gradient_descent")


def test_results_json_holds_the_plots_and_markdown_messages(gd_batch):
    _, out = gd_batch
    text = (out / "bug_epoch_loss_over_batch_size" / "results.json").read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"results.json holds {c}: not strict JSON"))
    test = next(t for t in data["tests"] if t["name"].endswith("test_fit_BGD_seed_data"))
    assert test["output_format"] == "md"
    # All of it in a code block: numbers line up, and no student text in it is read as Markdown.
    assert (test["output"].startswith("```\nfit_BGD losses: values are not close!\n")
            and test["output"].endswith("\n```"))
    figures = [f for c in data["extra_data"]["checks"] for f in c["figures"]]
    assert {"yours", "reference"} <= set(figures[0]["series"]) and len(figures[0]["series"]["yours"]) == 20


@pytest.mark.parametrize("batch", ["gd_batch", "mlp_batch", "linear_batch", "mnist_batch"])
def test_every_recorded_plot_draws(batch, request):
    """Every plot any check of the four assignments records (passed or not) draws as a PNG."""
    results = request.getfixturevalue(batch)
    results = results[0] if isinstance(results, tuple) else results
    figures = [f for r in results.values() for c in r.checks for f in c.figures]
    kinds = {f["kind"] for f in figures}
    seen = set()
    for f in figures:
        key = (f["title"], f["kind"])
        if key not in seen:
            seen.add(key)
            Image.open(io.BytesIO(charts.figure_png(f))).verify()
    assert "line" in kinds and seen


def test_mlp_page_plots_gradient_error_per_parameter_when_it_fails(mlp_batch, mlp):
    page = feedback.student_page(mlp_batch["bug_relu_mask_left_out"], mlp)
    assert any(a.startswith("MLP([3, 5, 4]).gradients: relative error per parameter") for a in alts(page))
    images(page)
    assert_no_hidden_details(page, "mlp_backprop")
    assert images(feedback.student_page(mlp_batch["reference"], mlp)) == []


def test_a_plot_of_nan_and_inf_draws_and_says_so():
    png = charts.figure_png({"title": "t", "kind": "line", "logy": True,
                             "series": {"yours": [1.0, float("nan"), None, 0.0, 3.0], "reference": [1, 2, 3, 4, 5]}})
    Image.open(io.BytesIO(png)).verify()
    bars = charts.figure_png({"title": "t", "kind": "bar", "logy": True, "series": {"W1": 1e-9, "b1": None}})
    Image.open(io.BytesIO(bars)).verify()
    assert charts.figure_png({"title": "t", "series": {"a": [1, 2]}}) == charts.figure_png(
        {"title": "t", "series": {"a": [1, 2]}})  # deterministic: rebuilt pages are identical


def test_class_summary(gd_batch, gd):
    results, out = gd_batch
    page = (out / "summary.html").read_text()
    text = text_of(page)
    assert f"{len(results)} submissions" in text
    assert alts(page) == ["score distribution", "check pass rates"] and len(images(page)) == 2
    for c in gd.checks:  # every check's pass rate, in words, hidden ones too
        assert f"{c.doc} ({c.name})" in text
    links = re.findall(r'href="([^"]+)"', page)
    assert {f"{name}/feedback.html" for name in results} <= set(links)
    assert all((out / link).is_file() for link in links)
    # The .py reference and the same code as a notebook are identical once normalised.
    groups = similarity.similar_groups(results.values(), similarity.code_signature(gd.stub))
    assert any({"reference", "reference_notebook"} <= set(g) for g in groups)


def test_code_signature_ignores_names_whitespace_comments_and_docstrings(tmp_path):
    a = tmp_path / "a.py"
    a.write_text('def fit(X, y, lr):\n    """Fit."""\n    w = X.T @ y  # gradient\n    return w * lr\n')
    b = tmp_path / "b.py"
    b.write_text("def train(data, target, step):\n\n    weights = data.T@target\n    return weights*step\n")
    c = tmp_path / "c.py"
    c.write_text("def train(data, target, step):\n    weights = data.T @ target\n    return weights + step\n")
    assert similarity.code_signature(a) == similarity.code_signature(b) != similarity.code_signature(c)
    assert similarity.code_signature(tmp_path / "missing.py") == ""


# -- every page type, as a person sees it in a browser ------------------------------------------------

@pytest.fixture(scope="module")
def kinds(tmp_path_factory, gd):
    """One batch with a submission of each kind: reference, stub, buggy, crashing, unreadable."""
    subs, out = tmp_path_factory.mktemp("kinds"), tmp_path_factory.mktemp("kinds-out")
    variants.write(subs, "reference", variants.reference_text())
    (subs / "stub.ipynb").write_text(gd.stub.read_text())
    variants.write(subs, "buggy", variants.bug_variant("epoch_loss_over_batch_size"))
    variants.write(subs, "crashed", variants.reference_text() + CRASH)
    (subs / "unreadable.ipynb").write_text("{ this is not JSON")
    results = {r.submission: r for r in batch.grade_all(gd, [subs], out, progress=False)}
    return results, out


def hidden_only(gd):
    """A result of a task whose checks are all hidden (none of the four assignments has one:
    ``autograder check`` asks for a public check per task), built as grading builds it."""
    r = SubmissionResult("hidden_only", "", graded=True, assignment=gd.name)
    r.checks = [CheckResult("test_secret_a", "1.1", "model", 1.0, 1.0, True, "Passed.", doc="secret a"),
                CheckResult("test_secret_b", "1.1", "model", 2.0, 0.0, True, "wrong", "failed", doc="secret b")]
    return r


def screenshot(url, shot):
    """Headless Chromium renders ``url`` into ``shot``; returns its console messages."""
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                           "--v=0", f"--screenshot={shot}", "--window-size=1000,1600", url],
                          capture_output=True, text=True, timeout=120)
    return [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]


def test_each_kind_of_page_says_what_a_reader_looks_for(kinds, gd):
    results, out = kinds
    page = {name: (out / name / "feedback.html").read_text() for name in results}
    assert "Graded" in text_of(page["reference"]) and "27 / 27" in text_of(page["reference"])
    crashed = text_of(page["crashed"])
    assert "fit_GD: the submission's process ended in fit_GD" in crashed and "(did not finish, 0 of 1)" in crashed
    unreadable = text_of(page["unreadable"])
    assert "Could not be loaded: The submission could not be read: notebook is not valid JSON" in unreadable
    assert "0 / 27" in unreadable
    only = feedback.student_page(hidden_only(gd), gd)
    assert "2 hidden checks, 1 of 3 points; details when grades are published" in text_of(only)
    assert "secret" not in only and check_lines(only) == []
    empty = feedback.class_summary([], gd)
    assert "No submissions have been graded" in text_of(empty) and images(empty) == []
    summary = text_of((out / "summary.html").read_text())
    assert "unreadable Could not be loaded: The submission could not be read" in summary


@pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium-headless-shell (done by .ci/run)")
def test_every_page_type_opens_in_a_browser_without_console_errors(kinds, gd, tmp_path):
    """Each page type renders in headless Chromium with no console message; the screenshots
    are kept in test-artefacts/ for a reviewer; the detector does catch a console error."""
    results, out = kinds
    (tmp_path / "hidden_only.html").write_text(feedback.student_page(hidden_only(gd), gd))
    (tmp_path / "empty_summary.html").write_text(feedback.class_summary([], gd))
    targets = {**{f"page_{name}": out / name / "feedback.html" for name in results},
               "page_hidden_only": tmp_path / "hidden_only.html", "summary": out / "summary.html",
               "summary_empty": tmp_path / "empty_summary.html"}
    ARTEFACTS.mkdir(exist_ok=True)
    for label, path in targets.items():
        shot = ARTEFACTS / f"{label}.png"
        assert screenshot(path.as_uri(), shot) == [], label
        with Image.open(shot) as img:
            assert img.size == (1000, 1600)
            lo, hi = img.convert("L").getextrema()
        assert lo < 100 < hi, label  # text on a light background, not a blank page
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    assert screenshot(broken.as_uri(), tmp_path / "broken.png")
