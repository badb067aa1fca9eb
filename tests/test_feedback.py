"""Feedback pages and the class summary: what students and instructors read after a batch."""
import base64
import html
import io
import json
import re
import shutil
import subprocess

import pytest
from PIL import Image

from autograder import assignments, feedback

CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")


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


@pytest.fixture(scope="module")
def pages(gd_batch):
    _, out = gd_batch
    return {p.parent.name: p.read_text() for p in out.glob("*/feedback.html")}


def hidden_checks(name):
    return [c for c in assignments.get(name).checks if c.hidden]


def assert_no_hidden_details(page, name):
    for c in hidden_checks(name):
        assert c.name not in page and (not c.doc or c.doc not in page), c.name


def test_every_submission_gets_a_page(gd_batch, pages):
    results, _ = gd_batch
    assert sorted(pages) == sorted(results)


def test_reference_page_scores_and_plots(pages):
    page = pages["reference"]
    assert "27 / 27" in page and "values are not close" not in page
    assert {"fit_GD: loss per epoch on the handout's data",
            "fit_BGD: loss per epoch on the handout's data (batch size 10)"} <= set(alts(page))
    assert any(a.startswith("train_perceptron, batch mode") for a in alts(page))
    assert len(images(page)) == len(alts(page)) >= 3
    assert_no_hidden_details(page, "gradient_descent")


def test_stub_page_says_what_to_implement(pages):
    page = pages["stub"]
    assert "0 / 27" in page and "NotImplementedError: Task 1.3: implement fit_GD" in page
    assert_no_hidden_details(page, "gradient_descent")


def test_buggy_page_shows_the_failing_message_and_both_curves(pages):
    page = pages["bug_epoch_loss_over_batch_size"]
    assert "test_fit_BGD_seed_data: failed" in page
    assert "fit_BGD losses: values are not close!" in page and "Greatest absolute difference" in page
    assert_no_hidden_details(page, "gradient_descent")
    images(page)


def test_results_json_messages_are_markdown(gd_batch):
    _, out = gd_batch
    data = json.loads((out / "bug_epoch_loss_over_batch_size" / "results.json").read_text())
    test = next(t for t in data["tests"] if t["name"].endswith("test_fit_BGD_seed_data"))
    assert test["output_format"] == "md"
    assert (test["output"].startswith("fit_BGD losses: values are not close!\n\n```\n")
            and test["output"].endswith("```"))


def test_mlp_page_plots_gradient_error_per_parameter(mlp_batch, mlp):
    for name in ("reference", "bug_relu_mask_left_out"):
        page = feedback.student_page(mlp_batch[name], mlp)
        assert any(a.startswith("MLP([3, 5, 4]).gradients: relative error per parameter") for a in alts(page))
        images(page)
        assert_no_hidden_details(page, "mlp_backprop")


def test_mnist_page_plots_the_study_beside_the_reference(mnist_batch, mnist):
    page = feedback.student_page(mnist_batch["reference"], mnist)
    assert {"Study: training loss per epoch (reference: on the 5,000-digit sample)",
            "Study: test accuracy per (batch size, lr)"} <= set(alts(page))
    images(page)
    assert_no_hidden_details(page, "mnist_study")


def test_class_summary(gd_batch):
    results, out = gd_batch
    page = (out / "summary.html").read_text()
    assert f"{len(results)} submissions" in page
    for png in ("score_distribution.png", "check_pass_rates.png"):
        Image.open(out / png).verify()
    assert len(images(page)) == 2
    for c in assignments.get("gradient_descent").checks:  # every check's pass rate, hidden ones too
        assert c.name in page
    # The .py reference and the same code as a notebook are identical once normalised.
    groups = feedback.similar_groups(results.values(),
                                     feedback.code_signature(assignments.get("gradient_descent").stub))
    assert any({"reference", "reference_notebook"} <= set(g) for g in groups)
    assert "reference, reference_notebook" in page


def test_code_signature_ignores_names_whitespace_comments_and_docstrings(tmp_path):
    a = tmp_path / "a.py"
    a.write_text('def fit(X, y, lr):\n    """Fit."""\n    w = X.T @ y  # gradient\n    return w * lr\n')
    b = tmp_path / "b.py"
    b.write_text("def train(data, target, step):\n\n    weights = data.T@target\n    return weights*step\n")
    c = tmp_path / "c.py"
    c.write_text("def train(data, target, step):\n    weights = data.T @ target\n    return weights + step\n")
    assert feedback.code_signature(a) == feedback.code_signature(b) != feedback.code_signature(c)
    assert feedback.code_signature(tmp_path / "missing.py") == ""


@pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium-headless-shell (done by .ci/run)")
def test_page_opens_in_a_browser_without_console_errors(gd_batch, tmp_path):
    """Headless Chromium renders the page to a screenshot and logs no console message; the
    same detector catches a page that does have a console error."""
    _, out = gd_batch

    def screenshot(url, shot):
        proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                               "--v=0", f"--screenshot={shot}", "--window-size=1000,1600", url],
                              capture_output=True, text=True, timeout=120)
        return [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]

    shot = tmp_path / "page.png"
    assert screenshot((out / "bug_epoch_loss_over_batch_size" / "feedback.html").as_uri(), shot) == []
    with Image.open(shot) as img:
        assert img.size == (1000, 1600)
        colours = img.convert("L").getextrema()
    assert colours[0] < 100 < colours[1]  # text on a light background, not a blank page
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    assert screenshot(broken.as_uri(), tmp_path / "broken.png")
