"""gradient_descent: the messages its bugs get, a hard-coded answer, results.json and the gradebook,
grading under plain pytest, alone or twice, and notebooks whose cells fail (the verdicts of every
assignment: test_verdicts.py)."""
import csv
import json

import variants


def failed(result):
    return {c.name for c in result.checks if c.score < c.points}


def test_hard_coded_losses_pass_public_but_fail_hidden(gd_batch):
    r = gd_batch[0]["bug_hard_coded_losses"]
    assert set(variants.HARD_CODED_FAILS) <= failed(r)
    assert "test_fit_GD_seed_data" not in failed(r)  # it does reproduce the handout's numbers


def test_bug_messages_name_expected_and_got(gd_batch):
    r = gd_batch[0]["bug_list_instead_of_array"]
    msg = next(c.output for c in r.checks if c.name == "test_fit_GD_contract")
    assert "expected np.ndarray, got list of length 20" in msg
    r = gd_batch[0]["bug_epoch_loss_over_batch_size"]
    msg = next(c.output for c in r.checks if c.name == "test_fit_BGD_seed_data")
    assert "Greatest absolute difference" in msg and "expected" in msg


def test_outputs_results_json_and_gradebook(gd_batch, gd):
    results, out = gd_batch
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [r["submission"] for r in rows] == sorted(results)
    assert {"submission", "score", "max_score", "status"} <= set(rows[0])
    by_name = {r["submission"]: r for r in rows}
    assert float(by_name["reference"]["score"]) == gd.total
    assert by_name["stub"]["status"] == "ok" and float(by_name["stub"]["score"]) == 0
    data = json.loads((out / "reference" / "results.json").read_text())
    assert data["score"] == gd.total and len(data["tests"]) == len(gd.checks)
    for t in data["tests"]:
        assert {"name", "score", "max_score", "visibility", "output"} <= set(t)
        assert t["visibility"] in ("visible", "after_published")
    assert {t["visibility"] for t in data["tests"]} == {"visible", "after_published"}


def test_checks_run_under_plain_pytest(tmp_path):
    """Check authors can run an assignment's checks with pytest against one submission."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(root / "autograder/assignments/gradient_descent/checks.py"),
                           "--submission", str(root / "examples/gradient_descent/carol_batch_size_bug.ipynb")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert "4 failed, 21 passed" in proc.stdout, proc.stdout[-2000:]
    assert "FAILED autograder/assignments/gradient_descent/checks.py::test_fit_BGD_seed_data" in proc.stdout or \
        "test_fit_BGD_seed_data" in proc.stdout


def test_shipped_examples_grade_as_documented(tmp_path):
    from autograder import batch
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    results = {r.submission: r.score for r in batch.grade_all("gradient_descent", [root / "examples/gradient_descent"],
                                                               tmp_path, progress=False)}
    assert results == {"alice_reference": 27, "bob_stub": 0, "carol_batch_size_bug": 22, "dave_script": 27}


def test_grading_twice_or_alone_gives_the_batch_results(tmp_path, gd, gd_batch):
    """The same submission graded twice by one grader, and alone rather than in the parallel
    batch, gets the same verdicts and messages."""
    from autograder import grade
    in_batch = gd_batch[0]["bug_shuffled_batches"]
    path = tmp_path / "bug.py"
    path.write_text(variants.bug_variant("shuffled_batches"))
    with grade.Grader(gd) as g:
        first, second = g.grade(path), g.grade(path)
    verdicts = [[(c.name, c.score, c.output) for c in r.checks] for r in (first, second, in_batch)]
    assert verdicts[0] == verdicts[1] == verdicts[2]


def test_failing_cells_and_magics_do_not_stop_later_definitions(tmp_path, gd):
    import json
    from autograder import build, grade
    nb = json.loads(build.notebook_text(build.solution_notebook(gd.solution)))
    bad = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "id": f"bad-{i}",
            "source": src} for i, src in enumerate(["%matplotlib inline\nimport not_a_module", "!ls -la",
                                                    "1 / 0", "def broken(:\n    pass"])]
    nb["cells"] = bad + nb["cells"]
    path = tmp_path / "messy.ipynb"
    path.write_text(json.dumps(nb))
    with grade.Grader(gd) as g:
        r = g.grade(path)
    assert r.score == gd.total, [c.output for c in r.checks if c.score < c.points]
    text = "\n".join(r.messages)
    assert "ModuleNotFoundError: No module named 'not_a_module'" in text and "cell 4 does not parse" in text


def test_a_failing_statement_costs_only_itself_not_its_cell(tmp_path, gd):
    """A Colab notebook's first cell mounts Drive outside a try, imports packages the grader
    lacks and runs `!nvidia-smi`; a later cell moves data to CUDA (no GPU here: it raises).
    In Jupyter each would stop its cell; here each statement runs on its own, so the imports
    and definitions after them survive, and each failure is named once with its place."""
    import json
    from autograder import build, grade
    nb = json.loads(build.notebook_text(build.solution_notebook(gd.solution)))
    first = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    colab = ("from google.colab import drive; drive.mount('/content/drive')\n"
             "import torchvision\nfrom torchinfo import summary\ngpu_info = !nvidia-smi\n")
    nb["cells"][first]["source"] = colab + "".join(nb["cells"][first]["source"])
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                        "source": "X = torch.ones(5, 1)\nX = X.to('cuda')\n"})
    path = tmp_path / "colab.ipynb"
    path.write_text(json.dumps(nb))
    with grade.Grader(gd) as g:
        r = g.grade(path)
    assert r.score == gd.total, [c.output for c in r.checks if c.score < c.points]
    text = "\n".join(r.messages)
    cell, last = first + 1, len(nb["cells"])
    assert f"cell {cell}, line 1 was skipped: ModuleNotFoundError: No module named 'google'" in text, text
    assert f"cell {cell}, line 2 was skipped: ModuleNotFoundError: No module named 'torchvision'" in text, text
    assert f"cell {last}, line 2 was skipped: " in text and "CUDA" in text, text
    assert text.count("No module named 'google'") == 1
