"""reference_answers.py: the reference's answers are computed once per grader identity, used
only under the key of what they depend on (never stale), and grading with them gives exactly
the results of grading without them."""
import json
import os
import subprocess
import sys
import zipfile

import pytest

import variants
from autograder import assignments, batch, build, grade, identity, reference_answers, sandbox

GD = assignments.get("gradient_descent")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder of this test's own (``$XDG_CACHE_HOME``)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return reference_answers.cache_dir()


def gd_submissions(folder):
    """The reference, a known bug and a correct alternative of gradient_descent, as .py files."""
    text = variants.reference_text()
    bug = next(iter(variants.BUGS))
    alternative = next(iter(variants.ALTERNATIVES))
    return [variants.write(folder, "reference", text),
            variants.write(folder, f"bug_{bug}", variants.patch(text, variants.BUGS[bug][0])),
            variants.write(folder, f"alt_{alternative}", variants.patch(text, variants.ALTERNATIVES[alternative]))]


def verdicts(results):
    return [(r.submission, c.name, c.score, c.status, c.output) for r in results for c in r.checks]


def key_of(assignment=GD):
    return reference_answers.answers_key(identity.grader_identity(assignment, sandbox.Limits()))


def test_recorded_answers_give_the_same_verdicts_without_running_the_reference(cache, tmp_path):
    subs = gd_submissions(tmp_path)
    with grade.Grader(GD) as first_grader:
        first = batch.grade_paths(first_grader, subs)
        assert first_grader.ref.loaded and first_grader.ref.computed > 0
    saved = list(cache.glob("gradient_descent-*.json"))
    assert saved == [reference_answers.cached_path(GD, key_of())]
    assert oct(cache.stat().st_mode & 0o777) == "0o700" and oct(saved[0].stat().st_mode & 0o777) == "0o600"
    with grade.Grader(GD) as second_grader:
        second = batch.grade_paths(second_grader, subs)
        assert not second_grader.ref.loaded and second_grader.ref.computed == 0
    assert verdicts(second) == verdicts(first)
    scores = {r.submission: sum(c.score for c in r.checks) for r in second}
    total = GD.checks.total
    assert scores["reference"] == total and scores[subs[2].stem] == total
    assert scores[subs[1].stem] < total  # the bug still loses its points


def test_answers_are_used_only_under_their_own_key(cache, tmp_path):
    """Answers planted wrong under the grader's key cost the reference its points (so they are
    read); the same answers under any other key are ignored, as are corrupt files."""
    subs = gd_submissions(tmp_path)[:1]
    with grade.Grader(GD) as g:
        batch.grade_paths(g, subs)
        answers = g.ref.answers()
    planted = {k: {"__opaque__": "planted", "text": ""} for k in answers}
    path = reference_answers.cached_path(GD, key_of())
    reference_answers.write(path, key_of(), planted)
    with grade.Grader(GD) as g:
        (result,) = batch.grade_paths(g, subs)
    assert sum(c.score for c in result.checks) < GD.checks.total
    stale = reference_answers.answers_key({**identity.grader_identity(GD, sandbox.Limits()), "reference": "changed"})
    for content in (reference_answers.dump(stale, planted), "{not json", json.dumps([1, 2])):
        path.write_text(content)
        assert reference_answers.load(GD, key_of()) == {}
        with grade.Grader(GD) as g:
            (result,) = batch.grade_paths(g, subs)
            assert g.ref.loaded
        assert sum(c.score for c in result.checks) == GD.checks.total


def test_the_key_follows_what_answers_depend_on_and_nothing_else():
    ident = identity.grader_identity(GD, sandbox.Limits())
    key = reference_answers.answers_key(ident)
    for part in ("checks", "toolkit", "reference", "data"):
        assert reference_answers.answers_key({**ident, part: "other"}) != key, part
    # limits and isolation change the grade's fingerprint, not the reference's answers
    assert reference_answers.answers_key({**ident, "limits": "other", "isolation": "uid"}) == key


def test_the_cache_folder_is_hidden_from_workers(cache):
    assert reference_answers.cache_dir() in grade.hidden_paths()
    assert cache.is_dir()  # made before the first worker, so that it is hidden from it


def test_an_unwritable_cache_costs_time_not_a_grade(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # a file where a folder should be
    (sub,) = gd_submissions(tmp_path)[:1]
    with grade.Grader(GD) as g:
        (result,) = batch.grade_paths(g, [sub])
    assert sum(c.score for c in result.checks) == GD.checks.total
    err = capsys.readouterr().err
    assert f"the cache folder {tmp_path / 'file' / 'autograder' / 'reference-answers'} is not used: it cannot be " \
           "made" in err, err


def test_the_zip_ships_the_answers_its_own_grader_looks_for(cache, tmp_path):
    """Built after the reference was graded, the zip holds its answers under the key that the
    zip's own copy of the toolkit computes (the same files, the same libraries)."""
    with grade.Grader(GD) as g:
        batch.grade_paths(g, gd_submissions(tmp_path)[:1])
        recorded = g.ref.answers()
    out = tmp_path / "dist"
    out.mkdir()
    zip_path = build.build_zip(GD, out)
    source = tmp_path / "source"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(source)
    package = source / "files" / "dl_autograder"
    shipped = package / "autograder" / "assignments" / "gradient_descent" / reference_answers.SHIPPED
    code = ("import autograder\nprint(autograder.__file__)\n"
            "from autograder import assignments, identity, reference_answers, sandbox\n"
            "a = assignments.get('gradient_descent')\n"
            "print(reference_answers.answers_key(identity.grader_identity(a, sandbox.Limits())))\n"
            "print(len(reference_answers.load(a, reference_answers.answers_key(identity.grader_identity(a, "
            "sandbox.Limits())))))\n")
    env = {**os.environ, "PYTHONPATH": str(package), "XDG_CACHE_HOME": str(tmp_path / "empty")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    imported, zip_key, found = proc.stdout.split()
    assert imported.startswith(str(package))  # the zip's copy, not this checkout
    assert json.loads(shipped.read_text())["key"] == zip_key == key_of()
    assert int(found) == len(recorded) > 0
