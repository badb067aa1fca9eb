"""gradescope.py: the zip's run_autograder in Gradescope's layout grades with the toolkit's
engine without otter's run: the scores of `autograder grade`, the reference's answers shipped
in the zip (none computed again), and a results.json whatever goes wrong."""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import assignments, batch, build, grade

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "gradient_descent"
GD = assignments.get("gradient_descent")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The gradient_descent zip, built after the reference was graded (its answers recorded)."""
    tmp = tmp_path_factory.mktemp("gradescope")
    cache = tmp / "build-cache"
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)
    try:
        with grade.Grader(GD) as g:
            batch.grade_paths(g, [EXAMPLES / "alice_reference.ipynb"])
        (tmp / "dist").mkdir()
        return build.build_zip(GD, tmp / "dist")
    finally:
        if old is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = old


def run_autograder(zip_path, submission, where, edit=None, metadata=None):
    """Gradescope's layout in ``where`` (AUTOGRADER_DIR), the zip's own run_autograder; returns
    (results.json, the cache folder the run could write to, the process)."""
    for part in ("source", "submission", "results"):
        (where / part).mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(where / "source")
    if edit:
        edit(where / "source")
    shutil.copy(submission, where / "submission" / submission.name)
    (where / "submission_metadata.json").write_text(json.dumps(metadata or {"id": 1, "assignment": {"title": GD.name}}))
    cache = where / "cache"
    env = {**os.environ, "AUTOGRADER_DIR": str(where), "XDG_CACHE_HOME": str(cache),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(where / "source" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=600)
    return json.loads((where / "results" / "results.json").read_text()), cache, proc


@pytest.mark.parametrize("case, expected", [("alice_reference.ipynb", 27.0), ("carol_batch_size_bug.ipynb", 22.0)])
def test_run_autograder_scores_as_autograder_grade_with_the_shipped_answers(built, tmp_path, case, expected):
    results, cache, proc = run_autograder(built, EXAMPLES / case, tmp_path / "ag")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert results["score"] == expected, results.get("output", "")[:2000]
    assert len(results["tests"]) == len(GD.checks)
    assert not list(cache.rglob("reference-answers/*.json")), "the zip computed answers it was shipped"
    with grade.Grader(GD) as g:
        (local,) = batch.grade_paths(g, [EXAMPLES / case])
    assert sum(c.score for c in local.checks) == expected


def test_run_autograder_writes_a_result_when_the_zip_is_broken(built, tmp_path):
    def break_config(source):
        (source / "otter_config.json").write_text(json.dumps({"plugins": []}))
    results, _, proc = run_autograder(built, EXAMPLES / "alice_reference.ipynb", tmp_path / "ag", break_config)
    assert results["score"] == 0 and results["tests"] == []
    assert "The autograder failed" in results["output"] and "names no autograder.otter_plugin" in results["output"]


def test_the_zips_grader_also_hides_the_installed_checkout(built, tmp_path):
    """Graded by the zip's copy of the toolkit on a machine where a checkout is installed too
    (a container image, a TA's machine), the checkout's checks, references, tests and history
    are hidden from workers as well as the zip's own."""
    source = tmp_path / "source"
    with zipfile.ZipFile(built) as z:
        z.extractall(source)
    package = source / "files" / "dl_autograder"
    code = "import json\nfrom autograder import grade\nprint(json.dumps([str(p) for p in grade.hidden_paths()]))\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(package)})
    assert proc.returncode == 0, proc.stderr
    hidden = set(json.loads(proc.stdout))
    assert str(package / "autograder") in hidden
    for name in ("autograder", "solutions", "tests", ".git"):
        assert str(ROOT / name) in hidden, name


def test_the_zip_applies_the_course_late_policy(built, tmp_path):
    """`autograder build --policy`: the zip's configuration carries the penalty; Gradescope's
    submission_metadata.json gives the times; results.json's score is the raw score less the
    penalty, and its output says how it was computed."""
    from autograder.course.late_policy import read_policy
    policy_file = tmp_path / "course.toml"
    policy_file.write_text("[late_penalty]\nfraction = 0.1\ncap = 0.5\n[assignments.gradient_descent]\n"
                           "due = 2026-10-02T23:59:00\n")
    settings = build.plugin_settings(GD, late_policy=read_policy(policy_file))
    assert settings["late_policy"] == {"fraction": 0.1, "per": "day", "cap": 0.5, "grace_days": 0}

    def with_policy(source):
        config = json.loads((source / "otter_config.json").read_text())
        config["plugins"][0]["autograder.otter_plugin.EnginePlugin"]["late_policy"] = settings["late_policy"]
        (source / "otter_config.json").write_text(json.dumps(config))
    metadata = {"id": 7, "created_at": "2026-10-04T01:00:00.000000-04:00",
                "assignment": {"due_date": "2026-10-02T23:59:00.000000-04:00", "late_due_date": None,
                               "title": GD.name}, "users": [{"email": "a@b.edu", "id": 3, "name": "A"}]}
    results, _, proc = run_autograder(built, EXAMPLES / "alice_reference.ipynb", tmp_path / "ag", with_policy,
                                      metadata)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert results["score"] == pytest.approx(27 * 0.8)  # 1 d 1 h 1 min late: two started days, 20%
    assert sum(t["score"] for t in results["tests"]) == 27  # the checks' own scores stay raw
    assert "Late penalty: 5.4 of 27 points" in results["output"] and "20% of the score taken off" in results["output"]
    on_time = {**metadata, "created_at": "2026-10-02T20:00:00-04:00"}
    results, _, _ = run_autograder(built, EXAMPLES / "alice_reference.ipynb", tmp_path / "ag2", with_policy, on_time)
    assert results["score"] == 27 and "Late penalty" not in results["output"]
