"""`autograder report` (report.rebuild): pages, class summary and grades.csv from results.json
files alone, after a resumed batch and merged from several folders."""
import json
import shutil

import pytest
import variants

from autograder import batch, cli, feedback, report, results

NAMES = ["reference", "bug_epoch_loss_over_batch_size", "bug_no_gradient_zeroing", "stub"]


def files_of(out):
    """Every page and the gradebook of an output folder: {relative path: bytes}."""
    found = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.glob("*/" + feedback.PAGE)}
    for name in (report.GRADEBOOK, feedback.SUMMARY):
        if (out / name).exists():
            found[name] = (out / name).read_bytes()
    return found


def student_pages(out):
    return {k: v for k, v in files_of(out).items() if k.endswith(feedback.PAGE)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, gd):
    """The same four submissions graded: in one batch; as a batch stopped after two and
    resumed (one page of the first run lost, as when the grader is killed between writing
    a results.json and its page); and as two halves, the second without pages."""
    root = tmp_path_factory.mktemp("report")
    folders = {k: root / k for k in ("all", "first", "second")}
    for f in folders.values():
        f.mkdir()
    texts = {"reference": variants.reference_text(), "stub": None}
    for i, name in enumerate(NAMES):
        for f in (folders["all"], folders["first"] if i < 2 else folders["second"]):
            if name == "stub":
                (f / "stub.ipynb").write_text(gd.stub.read_text())
            else:
                variants.write(f, name, texts.get(name) or variants.bug_variant(name.removeprefix("bug_")))
    out = {k: root / f"out_{k}" for k in ("full", "resumed", "a", "b")}
    batch.grade_all(gd, [folders["all"]], out["full"], progress=False)
    batch.grade_all(gd, [folders["first"]], out["resumed"], progress=False)
    (out["resumed"] / NAMES[0] / feedback.PAGE).unlink()
    kept = batch.grade_all(gd, [folders["all"]], out["resumed"], progress=False)
    batch.grade_all(gd, [folders["first"]], out["a"], progress=False)
    batch.grade_all(gd, [folders["second"]], out["b"], progress=False, pages=False)
    return out, kept


def test_a_resumed_batch_has_the_pages_and_gradebook_of_an_uninterrupted_one(runs):
    out, _ = runs
    assert sorted(student_pages(out["resumed"])) == sorted(f"{n}/{feedback.PAGE}" for n in NAMES)
    assert student_pages(out["resumed"]) == student_pages(out["full"])  # the lost page is back, the same
    assert (out["resumed"] / report.GRADEBOOK).read_bytes() == (out["full"] / report.GRADEBOOK).read_bytes()


def test_report_rebuilds_identical_pages_from_results_json_alone(runs, tmp_path, capsys):
    out, _ = runs
    before = files_of(out["resumed"])
    for page in out["resumed"].glob(f"*/{feedback.PAGE}"):
        page.unlink()
    (out["resumed"] / feedback.SUMMARY).unlink()
    assert cli.main(["report", str(out["resumed"])]) == 0
    assert f"{len(NAMES)} feedback page(s)" in capsys.readouterr().out
    assert files_of(out["resumed"]) == before


def test_grading_without_pages_writes_none_and_report_draws_them(runs):
    out, _ = runs
    assert not list(out["b"].glob("*/*.html")) and not (out["b"] / feedback.SUMMARY).exists()
    assert (out["b"] / report.GRADEBOOK).exists()


def test_report_merges_folders_into_one_batch(runs, tmp_path):
    out, _ = runs
    merged = tmp_path / "merged"
    assert cli.main(["report", str(out["a"]), str(out["b"]), "--out", str(merged)]) == 0
    assert (merged / report.GRADEBOOK).read_bytes() == (out["full"] / report.GRADEBOOK).read_bytes()
    assert student_pages(merged) == student_pages(out["full"])
    assert sorted(p.parent.name for p in merged.glob(f"*/{results.RESULTS}")) == sorted(NAMES)
    summary = (merged / feedback.SUMMARY).read_text()
    assert all(f'href="{n}/{feedback.PAGE}"' in summary for n in NAMES)


def test_report_refuses_what_does_not_belong_together(runs, tmp_path, capsys):
    out, _ = runs
    assert cli.main(["report", str(out["a"]), str(out["full"]), "--out", str(tmp_path / "m")]) == 2
    assert f"submission {NAMES[1]} has results in both" in capsys.readouterr().err  # the first, by name
    assert cli.main(["report", str(out["a"]), str(out["b"])]) == 2
    assert "needs --out" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["report", str(tmp_path / "empty")]) == 2
    assert "no results.json files in" in capsys.readouterr().err
    other = tmp_path / "other"
    shutil.copytree(out["a"], other)
    path = other / NAMES[0] / results.RESULTS
    data = json.loads(path.read_text())
    data["extra_data"]["assignment"] = "mlp_backprop"
    path.write_text(json.dumps(data))
    assert cli.main(["report", str(other)]) == 2
    assert "results of different assignments: gradient_descent, mlp_backprop" in capsys.readouterr().err


def test_an_unreadable_results_json_is_listed_and_the_rest_reported(runs, tmp_path, capsys):
    out, _ = runs
    folder = tmp_path / "partly"
    shutil.copytree(out["a"], folder)
    (folder / NAMES[1] / results.RESULTS).write_text("{ truncated")
    assert cli.main(["report", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"skipped {folder / NAMES[1] / results.RESULTS}" in err
    assert (folder / report.GRADEBOOK).read_text().count("\n") == 1 + 1  # header and the one readable


def test_results_json_round_trips(runs):
    out, kept = runs
    for r in kept:
        back = results.read(out["resumed"] / r.submission / results.RESULTS)
        assert back == results.from_json(results.to_json(back), back.path)
        assert (back.score, back.max_score, back.status, [c.doc for c in back.checks]) == \
            (r.score, r.max_score, r.status, [c.doc for c in r.checks])
