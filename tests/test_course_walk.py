"""The README's "Running a course" walk, end to end, on the generated class of 30
(examples/course/make_class.py): HW1 graded with its checks as they were before a mid-term fix
(examples/course/before_fix.py), HW2 graded, Canvas and Moodle files, then the fix, the regrade
refused over the old results, the regrade into a folder of its own and its diff. Every penalty,
grace day, LMS cell and change is checked against values worked out here from the policy."""
import csv
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from autograder import assignments, cli
from autograder.course import course_grades
from autograder.course.grace_ledger import GraceLedger

REPO = Path(__file__).resolve().parents[1]


def _module(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / "course" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


make_class, before_fix = _module("make_class"), _module("before_fix")

# Per student: (the submission that counts, its kind, the share taken off, grace days used),
# worked out by hand from course.toml (10% a started day, capped at 30%, 2 grace days).
HW1 = {**{f"s{i:02d}": (f"s{i:02d}", "R", 0, 0) for i in range(1, 11)},
       **{f"s{i:02d}": (f"s{i:02d}", "B", 0, 0) for i in range(11, 17)},
       "s17": ("s17", "S", 0, 0),
       "s18": ("s18", "R", 0, 1),        # 10 h late: one grace day
       "s19": ("s19", "R", 0.2, 2),      # 74 h late: 2 grace days, 26 h left: 2 days
       "s20": ("s20", "B", 0.3, 2),      # 5 d 12 h late: 2 grace days, 4 days: 40%, capped
       "s21": ("s21", "R", 1.0, 0),      # after the cutoff
       "s22": ("s22", "R", 0, 0),        # extension
       "s23": ("s23", "R", 0, 1),        # extension, 3 h late: one grace day
       "s24": ("s24_v1", "B", 0, 0),     # the last on time; s24_v2 was late
       "s25": ("s25_b", "R", 0, 0),      # the last of two on time
       "s26": ("jordan_hw1", "R", 0, 1),  # the roster's time: 1 h late
       "s29": ("s29", "S", 0, 0), "s30": ("s30", "R", 0, 0)}
HW2 = {**{f"s{i:02d}": (f"s{i:02d}", "R", 0, 0) for i in range(1, 31) if i not in (17, 21, 27, 28, 29)},
       "s17": ("s17", "S", 0, 0), "s29": ("s29", "S", 0, 0),
       "s26": ("jordan_hw2", "R", 0, 0),  # the roster's pattern; its time (Oct 3) is on time for HW2
       "s18": ("s18", "R", 0.1, 1),      # 30 h late, one grace day left: 6 h, 10%
       "s19": ("s19", "R", 0.1, 0)}      # 5 h late, none left: 10%
MISSING = {"s27", "s28"}


def rows(path):
    return list(csv.reader(path.read_text().splitlines()))


# The README's commands, in its order (test_the_readme_shows_these_commands keeps them in step).
COMMANDS = [
    "python examples/course/make_class.py term",
    "python examples/course/before_fix.py grade gradient_descent term/hw1 --policy term/course.toml --out graded/hw1",
    "autograder grade mlp_backprop term/hw2 --policy term/course.toml --out graded/hw2 -q",
    "autograder export-grades graded/hw1 graded/hw2 --format canvas --to canvas.csv",
    "autograder export-grades graded/hw1 graded/hw2 --format moodle --to moodle.csv",
    "autograder grade gradient_descent term/hw1 --policy term/course.toml --out graded/hw1 -q",
    "autograder grade gradient_descent term/hw1 --policy term/course.toml --out graded/hw1-fixed -q",
    "autograder report graded/hw1-fixed --compare graded/hw1",
    "autograder export-grades graded/hw1-fixed graded/hw2 --format canvas --to canvas.csv",
]


def run(command):
    """One of COMMANDS, in this process, from the current folder; its exit status."""
    words = command.split()
    if words[:2] == ["python", "examples/course/make_class.py"]:
        make_class.make_class(Path(words[2]))
        return 0
    if words[:2] == ["python", "examples/course/before_fix.py"]:
        return before_fix.main(words[2:])
    assert words[0] == "autograder"
    return cli.main(words[1:])


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """Run the README's commands in a folder of their own; what they wrote, and the raw scores
    the checks give each kind of submission."""
    root = tmp_path_factory.mktemp("course")
    g = root / "graded"
    out = {}
    here = os.getcwd()
    os.chdir(root)
    try:
        for i, command in enumerate(COMMANDS):
            if command == COMMANDS[5]:  # before the fix is graded: what must stay as it is
                before = (g / "hw1" / "s11" / "results.json").read_bytes()
            out[i] = run(command)
            if command == COMMANDS[1]:
                out["ledger_hw1"] = GraceLedger(root / "term" / "grace_days.json").read()
            if command == COMMANDS[2]:
                out["ledger_hw2"] = GraceLedger(root / "term" / "grace_days.json").read()
            if command == COMMANDS[3]:
                shutil.copyfile(root / "canvas.csv", root / "canvas_before.csv")
            if command == COMMANDS[4]:
                shutil.copyfile(root / "moodle.csv", root / "moodle_before.csv")
            if command == COMMANDS[5]:
                out["old_kept"] = (g / "hw1" / "s11" / "results.json").read_bytes() == before
        shutil.copyfile(root / "canvas.csv", root / "canvas_after.csv")
    finally:
        os.chdir(here)
    gd, mlp = assignments.get("gradient_descent"), assignments.get("mlp_backprop")
    carol = {c.name: c for c in json_checks(g / "hw1-fixed" / "s11")}
    old_points = {c.name: c.points for c in before_fix.before_fix(gd).checks}
    raw = {"hw1": {"R": gd.total, "S": 0.0, "B": sum(c.score for c in carol.values())},
           "hw1_old": {"R": sum(old_points.values()), "S": 0.0,
                       "B": sum(p for n, p in old_points.items()
                                if carol[n].score == carol[n].points or n == "test_fit_BGD_seed_data")},
           "hw2": {"R": mlp.total, "S": 0.0}}
    return root, g, out, raw


def json_checks(folder):
    from autograder.results import read
    return read(folder / "results.json").checks


def final(table, raw, sid):
    sub, kind, fraction, _ = table[sid]
    return round(raw[kind] * (1 - fraction), 6)


def test_commands_succeed_and_old_results_are_never_replaced(walk):
    _, g, out, _ = walk
    assert [out[i] for i in range(len(COMMANDS))] == [0, 0, 0, 0, 0, 2, 0, 0, 0]  # 5: refused over the old results
    assert out["old_kept"]


def test_the_readme_shows_these_commands():
    text = (REPO / "README.md").read_text()
    walk = text[text.index("### The term, walked"):text.index("### On Gradescope")]
    shown = [line[2:] for line in walk.splitlines() if line.startswith("$ ") and not line.startswith("$ head")]
    assert shown == COMMANDS


def test_course_json_penalties_and_grace_days(walk):
    _, g, out, raw = walk
    for folder, table, r in (("hw1", HW1, raw["hw1_old"]), ("hw1-fixed", HW1, raw["hw1"]), ("hw2", HW2, raw["hw2"])):
        course = course_grades.read(g / folder)
        by = {x.student.id: x for x in course.grades}
        assert len(by) == 30
        for sid, x in by.items():
            if sid in MISSING or sid not in table:
                assert x.status == "missing" and x.submission == "", (folder, sid)
                continue
            sub, kind, fraction, grace = table[sid]
            assert (x.submission, x.raw_score) == (sub, r[kind]), (folder, sid)
            assert x.late.fraction == fraction and x.late.grace_days == grace, (folder, sid, x.late)
            assert x.late_penalty == pytest.approx(r[kind] * fraction)
            assert x.score == pytest.approx(final(table, r, sid))
    hw1 = course_grades.read(g / "hw1")
    assert set(hw1.unmatched) == {"final_version", "s01_s02_shared"}
    assert "several students of the roster (s01, s02)" in hw1.unmatched["s01_s02_shared"]
    by = {x.student.id: x for x in hw1.grades}
    assert by["s24"].others == ["s24_v2"] and by["s25"].others == ["s25_a"]
    assert by["s26"].late.source == "the roster (roster.csv, line 27)"
    assert "after the cutoff" in by["s21"].late.how and "(with an extension)" in by["s22"].late.how
    # The ledger: each counted submission's grace days, per assignment; HW2 saw HW1's.
    assert out["ledger_hw1"] == {sid: {"gradient_descent": t[3]} for sid, t in HW1.items() if t[3]}
    assert out["ledger_hw2"] == {"s18": {"gradient_descent": 1, "mlp_backprop": 1}, "s19": {"gradient_descent": 2},
                                 "s20": {"gradient_descent": 2}, "s23": {"gradient_descent": 1},
                                 "s26": {"gradient_descent": 1}}


def test_grades_csv_results_json_and_the_students_page(walk):
    _, g, _, raw = walk
    by = {r["submission"]: r for r in csv.DictReader(open(g / "hw1-fixed" / "grades.csv"))}
    s19 = by["s19"]
    assert (float(s19["raw_score"]), float(s19["late_penalty"]), float(s19["score"])) == \
        (raw["hw1"]["R"], pytest.approx(0.2 * raw["hw1"]["R"]), pytest.approx(0.8 * raw["hw1"]["R"]))
    assert (s19["student_ids"], s19["grace_days"], s19["hours_late"]) == ("s19", "2", "74.0")  # 74 h 0 min
    data = json.loads((g / "hw1-fixed" / "s19" / "results.json").read_text())
    assert data["score"] == pytest.approx(0.8 * raw["hw1"]["R"])  # what Gradescope shows
    assert data["extra_data"]["raw_score"] == raw["hw1"]["R"] and "Late penalty" in data["output"]
    page = (g / "hw1-fixed" / "s19" / "feedback.html").read_text()
    assert "2 grace days used (0 left); 2 days late after them x 10%: 20% of the score taken off" in page
    assert by["s24_v2"]["student_ids"] == "s24"  # not counted, still graded and listed


def _cell(table, raw, sid):
    from autograder.course.lms_export import points
    return "" if sid not in table else points(final(table, raw, sid))


@pytest.mark.parametrize("when", ["before", "after"])
def test_canvas_file(walk, when):
    root, _, _, raw = walk
    hw1_raw = raw["hw1_old"] if when == "before" else raw["hw1"]
    got = rows(root / f"canvas_{when}.csv")
    gd, mlp = assignments.get("gradient_descent"), assignments.get("mlp_backprop")
    from autograder.course.lms_export import points
    assert got[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW1: Gradient descent (4101)",
                      "HW2: Backpropagation (4102)"]
    assert got[1] == ["Points Possible", "", "", "", "", points(gd.total if when == "after" else raw["hw1_old"]["R"]),
                      points(mlp.total)]
    want = [[name, "", sid, "", section, _cell(HW1, hw1_raw, sid), _cell(HW2, raw["hw2"], sid)]
            for sid, name, _email, section, *_ in make_class.roster_rows()[1:]]
    assert got[2:] == want
    assert got[2 + 20][5] == "0"  # s21: after the cutoff
    assert got[2 + 26][5:] == ["", ""]  # s27: no submission


def test_moodle_file(walk):
    root, _, _, raw = walk
    got = rows(root / "moodle_before.csv")
    assert got[0] == ["Full name", "ID number", "Email address", "HW1: Gradient descent", "HW2: Backpropagation"]
    assert got[1:] == [[name, sid, email, _cell(HW1, raw["hw1_old"], sid), _cell(HW2, raw["hw2"], sid)]
                       for sid, name, email, *_ in make_class.roster_rows()[1:]]


def test_regrade_diff(walk):
    _, g, _, raw = walk
    from autograder.course.lms_export import points
    diff = {r["student_id"]: r for r in csv.DictReader(open(g / "hw1-fixed" / "regrade_diff.csv"))}
    changed = {sid for sid in HW1 if final(HW1, raw["hw1_old"], sid) != final(HW1, raw["hw1"], sid)}
    assert set(diff) == changed and len(changed) == 25
    for sid in changed:
        row = diff[sid]
        old, new = final(HW1, raw["hw1_old"], sid), final(HW1, raw["hw1"], sid)
        assert (row["old_score"], row["new_score"]) == (points(old), points(new))
        assert f"changed from {points(old)} to {points(new)}" in row["message"]
        kind = HW1[sid][1]
        assert row["checks_changed"].split(";") == (["test_fit_BGD_seed_data", "test_fit_BGD_short_last_batch"]
                                                    if kind == "B" else ["test_fit_BGD_short_last_batch"])
    assert "is worth 2 instead of 1" in diff["s01"]["message"]
    assert 'now fails' in diff["s11"]["message"]
    summary = (g / "hw1-fixed" / "summary.html").read_text()
    assert "Changes since the earlier grading" in summary and "25 of 28 students changed score" in summary
    lost = "s11, s12, s13, s14, s15, s16, s20, s24"
    assert lost in summary
