"""A generated class of 30 for the README's "Running a course" walk (and its test): a roster, a
course policy and two assignments' submissions, with what a term brings: late work, grace
days, extensions, a cutoff, two submissions by one student, a zip made on a Mac, a file named
by a pattern and timed by the roster, submissions that match no student, missing students.

    python examples/course/make_class.py course    # writes course/{roster.csv,course.toml,hw1/,hw2/}

HW1 is gradient_descent (from examples/gradient_descent/: the reference, Carol's batch-size
bug, Bob's untouched stub); HW2 is mlp_backprop (its reference solution, or its stub).
Submission times are the files' modification times, except where the roster gives one.
"""
import datetime as dt
import os
import shutil
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GD = REPO / "examples" / "gradient_descent"
HW1 = {"R": GD / "alice_reference.ipynb", "B": GD / "carol_batch_size_bug.ipynb", "S": GD / "bob_stub.ipynb"}
HW2 = {"R": REPO / "solutions" / "mlp_backprop" / "mlp_backprop.py",
       "S": REPO / "assignments" / "mlp_backprop" / "mlp_backprop.ipynb"}
NY = dt.timezone(dt.timedelta(hours=-4))  # New York in October (EDT), the policy's zone

NAMES = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth",
         "Frances Allen", "John McCarthy", "Margaret Hamilton", "Claude Shannon", "Katherine Johnson",
         "Dennis Ritchie", "Radia Perlman", "Ken Thompson", "Shafi Goldwasser", "Tony Hoare", "Fei-Fei Li",
         "Yann LeCun", "Geoffrey Hinton", "Yoshua Bengio", "Cynthia Dwork", "Leslie Lamport", "Judea Pearl",
         "Andrew Ng", "Daphne Koller", "Michael Jordan", "Jeff Dean", "Ian Goodfellow", "Sepp Hochreiter",
         "Juergen Schmidhuber"]

POLICY = """\
# The course's deadlines and late policy (README: Running a course).
timezone = "America/New_York"
roster = "roster.csv"
grace_days = 2                     # shared by every assignment of the term
grace_ledger = "grace_days.json"
counts = "last_on_time"            # of several submissions, the last one before the due date

[late_penalty]
per = "day"                        # each started day late after grace days ...
fraction = 0.10                    # ... costs 10% of the score earned
cap = 0.30                         # at most 30%

[assignments.gradient_descent]
title = "HW1: Gradient descent"
due = 2026-10-02T23:59:00
cutoff = 2026-10-09T23:59:00       # nothing after it is accepted
canvas_id = "4101"

[assignments.gradient_descent.extensions]
s22 = 2026-10-05T23:59:00
s23 = 2026-10-05T23:59:00

[assignments.mlp_backprop]
title = "HW2: Backpropagation"
due = 2026-10-16T23:59:00
canvas_id = "4102"
"""


def at(month_day: str, hh_mm: str) -> dt.datetime:
    """A time in October 2026, New York."""
    return dt.datetime.fromisoformat(f"2026-10-{month_day}T{hh_mm}:00").replace(tzinfo=NY)


# HW1: (file name, kind, submitted). The due date is Oct 2, 23:59; the cutoff Oct 9, 23:59.
HW1_SUBMISSIONS = [
    *[(f"s{i:02d}.ipynb", "R", at("02", "18:00")) for i in range(1, 11)],
    *[(f"s{i:02d}.ipynb", "B", at("01", "12:00")) for i in range(11, 17)],
    ("s17.ipynb", "S", at("02", "09:00")),
    ("s18.ipynb", "R", at("03", "09:59")),      # 10 h late: one grace day, no penalty
    ("s19.ipynb", "R", at("06", "01:59")),      # 74 h late: two grace days, 26 h left: 2 days, 20%
    ("s20.ipynb", "B", at("08", "12:00")),      # 5 d 12 h late: two grace days, 4 days left: 40%, capped at 30%
    ("s21.ipynb", "R", at("10", "08:00")),      # after the cutoff: 0
    ("s22.ipynb", "R", at("05", "20:00")),      # extension to Oct 5: on time
    ("s23.ipynb", "R", at("06", "03:00")),      # extension to Oct 5, 3 h late: one grace day
    ("s24_v1.ipynb", "B", at("02", "20:00")),   # on time; s24_v2 is late: v1 counts
    ("s24_v2.ipynb", "R", at("03", "10:00")),
    ("s25_a.ipynb", "B", at("01", "10:00")),    # both on time: the last, s25_b, counts
    ("s25_b.ipynb", "R", at("02", "22:00")),
    ("jordan_hw1.ipynb", "R", at("02", "23:00")),  # s26's pattern; the roster says Oct 3, 01:00: 2 h late
    ("s29.ipynb", "S", at("02", "10:00")),
    ("s30.zip", "R", at("02", "11:00")),         # zipped on a Mac
    ("final_version.ipynb", "R", at("02", "12:00")),   # no student's name or id: matches no student
    ("s01_s02_shared.ipynb", "R", at("02", "12:00")),  # two students' ids: matches neither
]
# HW2 (due Oct 16, 23:59): everyone on the roster but s27, s28 and s21.
HW2_LATE = {"s18": at("18", "05:59"),  # 30 h late, one grace day left (one used on HW1): 6 h left, 10%
            "s19": at("17", "04:59")}  # 5 h late, no grace day left (two used on HW1): 10%
HW2_STUBS = {"s17", "s29"}


def roster_rows() -> list[list[str]]:
    rows = [["id", "name", "email", "section", "submission", "submitted_at"]]
    for i, name in enumerate(NAMES, 1):
        sid = f"s{i:02d}"
        first, last = name.split(" ", 1)
        pattern = "*jordan*" if sid == "s26" else ""
        submitted = "2026-10-03T01:00:00" if sid == "s26" else ""
        rows.append([sid, name, f"{first[0].lower()}{last.lower().replace(' ', '')}@example.edu",
                     "A" if i % 2 else "B", pattern, submitted])
    return rows


def _stamp(path: Path, when: dt.datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def make_class(dest: Path) -> Path:
    """Write the class into ``dest`` (replacing what is there); return ``dest``."""
    import csv
    dest = Path(dest)
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "hw1").mkdir(parents=True)
    (dest / "hw2").mkdir()
    with open(dest / "roster.csv", "w", newline="") as f:
        csv.writer(f).writerows(roster_rows())
    (dest / "course.toml").write_text(POLICY)
    for name, kind, when in HW1_SUBMISSIONS:
        path = dest / "hw1" / name
        if name.endswith(".zip"):
            with zipfile.ZipFile(path, "w") as z:
                z.write(HW1[kind], "hw1/gradient_descent.ipynb")
                z.writestr("__MACOSX/hw1/._gradient_descent.ipynb", b"\x00\x05\x16\x07 resource fork")
        else:
            shutil.copyfile(HW1[kind], path)
        _stamp(path, when)
    for sid in (f"s{i:02d}" for i in range(1, 31)):
        if sid in ("s21", "s27", "s28"):
            continue
        kind = "S" if sid in HW2_STUBS else "R"
        path = dest / "hw2" / f"{'jordan_hw2' if sid == 's26' else sid}{HW2[kind].suffix}"
        shutil.copyfile(HW2[kind], path)
        _stamp(path, HW2_LATE.get(sid, at("16", "20:00")))
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} DEST")
    print(f"wrote {make_class(Path(sys.argv[1]))}/: roster.csv (30 students), course.toml, "
          f"hw1/ ({len(HW1_SUBMISSIONS)} submissions), hw2/ (27)")
