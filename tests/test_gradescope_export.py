"""course/gradescope_export.py: Gradescope's "Export Submissions" zip as a batch's input (a folder
per submission beside submission_metadata.yml); its hostile variants are named errors."""
import csv
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from autograder import cli
from autograder.course import course_grades, gradescope_export
from autograder.course.gradescope_export import ExportError, read_export

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "gradient_descent"

# As Gradescope writes it: Ruby symbols as keys, a YAML timestamp with the course's offset.
METADATA = """\
submission_281947:
  :submitters:
  - :name: Ada Lovelace
    :sid: s01
    :email: ada@example.edu
  :created_at: 2026-10-02 18:00:00.052134000 -04:00
  :score: 27.0
  :status: processed
  :history: []
submission_281990:
  :submitters:
  - :name: Alan Turing
    :sid: s02
    :email: alan@example.edu
  - :name: Grace Hopper
    :sid: s03
    :email: grace@example.edu
  :created_at: 2026-10-03 09:30:00.000000000 -04:00
  :score: 22.0
  :history:
  - :created_at: 2026-10-01 10:00:00.000000000 -04:00
    :score: 0.0
submission_282001:
  :submitters:
  - :name: Someone Else
    :sid: x99
    :email: else@example.edu
  :created_at: 2026-10-02 12:00:00.000000000 -04:00
"""
ROSTER = "id,name,email\ns01,Ada Lovelace,ada@example.edu\ns02,Alan Turing,alan@example.edu\n" \
         "s03,Grace Hopper,grace@example.edu\ns04,Edsger Dijkstra,edsger@example.edu\n"
POLICY = """\
timezone = "America/New_York"
roster = "roster.csv"
[late_penalty]
fraction = 0.1
[assignments.gradient_descent]
due = 2026-10-02T23:59:00
"""
FILES = {"submission_281947": "alice_reference.ipynb", "submission_281990": "carol_batch_size_bug.ipynb",
         "submission_282001": "bob_stub.ipynb"}


def make_export(dest: Path, metadata: str = METADATA) -> Path:
    """assignment_4101_export.zip as Gradescope's "Export Submissions" makes it."""
    path = dest / "assignment_4101_export.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("assignment_4101_export/submission_metadata.yml", metadata)
        for folder, example in FILES.items():
            z.write(EXAMPLES / example, f"assignment_4101_export/{folder}/gradient_descent.ipynb")
    return path


def test_reads_submitters_and_times(tmp_path):
    root = gradescope_export.unpack(make_export(tmp_path), tmp_path / "unpacked").root
    found = read_export(root)
    assert sorted(found) == sorted(FILES)
    group = found["submission_281990"]
    assert [s.id for s in group.submitters] == ["s02", "s03"]
    assert group.created_at.isoformat() == "2026-10-03T09:30:00-04:00"


@pytest.mark.parametrize("metadata, words", [
    ("- just\n- a list\n", "expected one entry per submission folder"),
    ("submission_1:\n  :created_at: 2026-10-02 18:00:00 -04:00\n", "submission_1: no :submitters:"),
    ("submission_1:\n  :submitters:\n  - :name: A\n  :created_at: next tuesday\n", ":created_at: 'next tuesday'"),
    ("../etc:\n  :submitters:\n  - :name: A\n  :created_at: 2026-10-02 18:00:00 -04:00\n", "not a submission folder"),
    ("submission_1:\n  :submitters:\n  - :name: [1, 2]\n  :created_at: 2026-10-02 18:00:00 -04:00\n",
     ":name is list, expected text"),
    ("submission_1: {unclosed\n", "cannot read it"),
    ("a: &a [*a]\n", "a: expected :submitters: and :created_at:, got list"),
])
def test_hostile_metadata_is_a_named_error(tmp_path, metadata, words):
    (tmp_path / gradescope_export.METADATA).write_text(metadata)
    with pytest.raises(ExportError) as e:
        read_export(tmp_path)
    assert str(tmp_path / gradescope_export.METADATA) in str(e.value) and words in str(e.value), str(e.value)


def test_a_graded_export(tmp_path):
    """The zip straight from Gradescope: students and times from its metadata, a group credited
    to both, a submitter not on the roster listed, a student with no submission listed."""
    (tmp_path / "roster.csv").write_text(ROSTER)
    (tmp_path / "course.toml").write_text(POLICY)
    out = tmp_path / "graded"
    assert cli.main(["grade", "gradient_descent", str(make_export(tmp_path)), "--policy",
                     str(tmp_path / "course.toml"), "--out", str(out), "-q", "-j", "2"]) == 0
    rows = {r["submission"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert set(rows) == set(FILES)
    ada, pair = rows["submission_281947"], rows["submission_281990"]
    assert (ada["student_ids"], ada["score"], ada["late_penalty"], ada["submitted_at"]) == \
        ("s01", "27.0", "0.0", "2026-10-02T18:00:00.052134-04:00")
    assert pair["student_ids"] == "s02;s03" and float(pair["hours_late"]) == pytest.approx(9 + 31 / 60, abs=1e-4)
    assert float(pair["late_penalty"]) == pytest.approx(0.1 * float(pair["raw_score"]))  # one day late, 10%
    course = course_grades.read(out)
    by = {g.student.id: g for g in course.grades}
    assert by["s02"].score == by["s03"].score == float(pair["score"])
    assert by["s04"].status == course_grades.Status.MISSING
    assert course.unmatched == {
        "submission_282001": "handed in on Gradescope by Someone Else, who is not on the roster"}
    late = json.loads((out / "submission_281990" / "results.json").read_text())["extra_data"]["late"]
    assert "Gradescope's submission_metadata.yml" in late["source"]
    # The same zip again: unpacked once, nothing graded twice.
    shutil.rmtree(out / "submission_281947")
    assert cli.main(["grade", "gradient_descent", str(tmp_path / "assignment_4101_export.zip"), "--policy",
                     str(tmp_path / "course.toml"), "--out", str(out), "-q", "-j", "2"]) == 0
    assert (out / "submission_281947" / "results.json").exists()
