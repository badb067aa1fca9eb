"""course/regrade_diff.py without a roster (submissions compared by name) and its refusals; the
roster's case runs in tests/test_course_walk.py."""
import csv

from autograder import cli
from autograder.course import regrade_diff
from autograder.results import CheckResult, SubmissionResult, write


def result(name, scores, points=(2.0, 1.0), assignment="gradient_descent"):
    r = SubmissionResult(name, name, graded=True, assignment=assignment)
    for i, (s, p) in enumerate(zip(scores, points, strict=True)):
        r.checks.append(CheckResult(f"test_{i}", "1.1", "f", p, s, False, "", doc=f"check {i}."))
    return r


def test_by_submission(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    for r in (result("a", (2, 1)), result("b", (0, 1)), result("c", (2, 0))):
        write(r, old)
    for r in (result("a", (2, 1)), result("b", (2, 1)), result("c", (0, 0)), result("d", (2, 1))):
        write(r, new)
    diff = regrade_diff.compare(old, new)
    assert not diff.by_student and diff.compared == 3
    assert [(c.key, c.old, c.new, c.checks) for c in diff.changes] == [
        ("b", 1.0, 3.0, ["test_0"]), ("c", 2.0, 0.0, ["test_0"]), ("d", None, 3.0, ["test_0", "test_1"])]
    first = next(c for c in diff.checks if c.name == "test_0")
    assert (first.old_passed, first.new_passed, first.lost, first.gained) == (2, 3, ["c"], ["b"])
    assert 'Task 1.1, "check 0" now passes (0 -> 2)' in diff.changes[0].message
    rows = list(csv.DictReader(open(regrade_diff.write_csv(diff))))
    assert [(r["submission"], r["old_score"], r["new_score"], r["change"]) for r in rows] == [
        ("b", "1", "3", "2"), ("c", "2", "0", "-2"), ("d", "", "3", "3")]


def test_refusals(tmp_path, capsys):
    new = tmp_path / "new"
    write(result("a", (2, 1)), new)
    assert cli.main(["report", str(new), "--compare", str(tmp_path / "nowhere")]) == 2
    assert f"no such folder: {tmp_path / 'nowhere'}" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["report", str(new), "--compare", str(tmp_path / "empty")]) == 2
    assert "nothing to compare with" in capsys.readouterr().err
    write(result("a", (1,), points=(1.0,), assignment="mlp_backprop"), tmp_path / "other")
    assert cli.main(["report", str(new), "--compare", str(tmp_path / "other")]) == 2
    assert "different assignments (gradient_descent, mlp_backprop)" in capsys.readouterr().err


def test_forged_course_fields_make_a_results_json_unreadable(tmp_path):
    """A results.json may have been written by anyone (a run without isolation): a late block or
    a student of the wrong types is refused when read, never used in a penalty."""
    import json

    import pytest

    from autograder.results import RESULTS, read
    write(result("a", (2, 1)), tmp_path)
    path = tmp_path / "a" / RESULTS
    good = json.loads(path.read_text())
    late = {"submitted_at": "x", "source": "s", "due": "d", "fraction": 0.5}
    for extra in ({"late": {**late, "fraction": "0.5"}}, {"late": {**late, "fraction": 7}},
                  {"late": {**late, "late_seconds": None}}, {"students": [{"id": ["s1"], "name": "n", "email": "e"}]},
                  {"students": "s1"}, {"late": {**late, "evil": 1}}):
        path.write_text(json.dumps({**good, "extra_data": {**good["extra_data"], **extra}}))
        with pytest.raises(ValueError, match="not a results.json of this grader"):
            read(path)
    path.write_text(json.dumps({**good, "extra_data": {**good["extra_data"], "late": late}}))
    assert read(path).penalty == 1.5
