"""The command line's exit status and what it tells the instructor: 0 all graded, 1 some could
not be graded (each named with its reason), 2 usage errors (nothing written, no traceback).
Stopping (129/130/143) is in test_stop.py, refusing without isolation in test_sandbox.py."""
import json
import shutil
import subprocess
import sys

from autograder import cli

EXAMPLES = "examples/gradient_descent"


def test_help_documents_the_exit_status(capsys):
    try:
        cli.main(["grade", "--help"])
    except SystemExit as e:
        assert e.code == 0
    text = capsys.readouterr().out
    for line in ("0    every submission was graded", "1    some submission could not be graded",
                 "2    usage error", "129, 130, 143"):
        assert line in text


def test_everything_graded_exits_0(tmp_path, capsys):
    assert cli.main(["grade", "gradient_descent", EXAMPLES, "--out", str(tmp_path / "out"), "-q"]) == 0
    assert "Could not be graded" not in capsys.readouterr().err


def test_empty_folder_is_a_usage_error_naming_what_was_looked_for(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "notes.txt").write_text("not a submission")
    out = tmp_path / "out"
    assert cli.main(["grade", "gradient_descent", str(tmp_path / "subs"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("autograder: no submissions found in ") and "looked for .ipynb, .py and .zip files" in err
    assert not out.exists()
    (tmp_path / "empty").mkdir()
    assert cli.main(["grade", "mnist_study", str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert "looked for folders (or .zip files) each holding one notebook" in capsys.readouterr().err
    assert not out.exists()


def test_missing_paths_are_usage_errors_without_a_traceback(tmp_path):
    for args in (["grade", "gradient_descent", str(tmp_path / "nowhere")],
                 ["export", "gradient_descent", str(tmp_path / "nowhere")]):
        proc = subprocess.run([sys.executable, "-m", "autograder.cli", *args, "--out", str(tmp_path / "out")],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip() == f"autograder: no such submission file or folder: {tmp_path / 'nowhere'}"
    assert not (tmp_path / "out").exists()


def test_submissions_that_cannot_be_graded_exit_1_and_are_named_with_their_reason(tmp_path, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(f"{EXAMPLES}/alice_reference.ipynb", subs)
    (subs / "broken.ipynb").write_text("{ this is not json")
    notes = tmp_path / "notes.txt"
    notes.write_text("a .txt handed in by mistake")
    out = tmp_path / "out"
    assert cli.main(["grade", "gradient_descent", str(subs), str(notes), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    listed = err.split("Could not be graded (2):\n", 1)[1].splitlines()
    for name in ("broken", "notes.txt"):
        output = json.loads((out / name / "results.json").read_text())["output"]
        assert f"  {name}: {output.splitlines()[0]}" in listed
    assert "not valid JSON" in err and "expected a notebook, a folder or a zip, got notes.txt" in err
    assert json.loads((out / "alice_reference" / "results.json").read_text())["score"] == 27
