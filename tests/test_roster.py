"""course/roster.py: columns, errors with file and line, and which student a file belongs to."""
import pytest

from autograder.course.roster import RosterError, read_roster

ROSTER = """\ufeffStudent ID,Name,Email,Section,Submission
s0001,Ada Lovelace,ada@example.edu,A,
s0002,Alan Turing,alan@example.edu,B,*turing*;at_hw*
s0010,Grace Hopper,grace@example.edu,A,
"""


def write(tmp_path, text):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_aliases_and_a_byte_order_mark(tmp_path):
    r = read_roster(write(tmp_path, ROSTER))
    assert [s.id for s in r.students] == ["s0001", "s0002", "s0010"]
    assert r.students[1].name == "Alan Turing" and r.students[1].section == "B"
    assert r.find(email="GRACE@example.edu").student.id == "s0010"


@pytest.mark.parametrize("name, who", [
    ("s0001.ipynb", "s0001"), ("hw1_S0001_v2.zip", "s0001"), ("Turing_Alan.ipynb", "s0002"),
    ("at_hw1", "s0002"), ("s00010.ipynb", None), ("s0001x.ipynb", None), ("s0010.ipynb", "s0010"),
])
def test_matching(tmp_path, name, who):
    matched, why = read_roster(write(tmp_path, ROSTER)).match(name)
    assert [x.student.id for x in matched] == ([who] if who else []) and bool(why) == (who is None)


def test_a_name_of_two_students_matches_neither(tmp_path):
    matched, why = read_roster(write(tmp_path, ROSTER)).match("s0001_and_s0010.ipynb")
    assert matched == [] and "several students of the roster (s0001, s0010)" in why


@pytest.mark.parametrize("text, message", [
    ("id,name,email\ns1,A,a@x.edu\ns1,B,b@x.edu\n", ":3: student id 's1' is already on line 2"),
    ("id,name,email\ns1,A,a@x.edu\n\ns2,B,A@X.edu\n", ":4: email 'A@X.edu' is already on line 2"),
    ("id,name\ns1,A\n", ":1: no column email; expected id, name, email"),
    ("id,name,email,house\ns1,A,a@x.edu,G\n", ":1: unknown column 'house'"),
    ("id,name,email\ns1,A\n", ":2: 2 cells, expected 3"),
    ("id,name,email\n,A,a@x.edu\n", ":2: empty id"),
    ("id,name,email\ns1,A,not-an-address\n", ":2: 'not-an-address' is not an email address"),
    ("id,name,email\n", ": no students under the header"),
])
def test_errors_name_the_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(RosterError) as e:
        read_roster(path)
    assert str(e.value).startswith(str(path)) and message in str(e.value), str(e.value)
