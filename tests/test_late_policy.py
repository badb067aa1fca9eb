"""course/late_policy.py: the policy file's errors name the file, the line and what was expected;
lateness, grace days, the cap, the cutoff and extensions, computed by hand here."""
import datetime as dt

import pytest

from autograder.course import late_policy
from autograder.course.late_policy import Counts, Per, PolicyError, read_policy

POLICY = """\
timezone = "America/New_York"
grace_days = 2
grace_ledger = "ledger.json"
counts = "best"

[late_penalty]
per = "day"
fraction = 0.1
cap = 0.35

[assignments.gradient_descent]
title = "HW1"
due = 2026-10-02T23:59:00
cutoff = 2026-10-09T23:59:00
canvas_id = "4101"

[assignments.gradient_descent.extensions]
s0007 = 2026-10-04T23:59:00
"""
NY = dt.timezone(dt.timedelta(hours=-4))  # New York in October (EDT)


def write(tmp_path, text):
    path = tmp_path / "course.toml"
    path.write_text(text)
    return path


def at(day, hour, minute=0):
    return dt.datetime(2026, 10, day, hour, minute, tzinfo=NY)


@pytest.fixture
def policy(tmp_path):
    return read_policy(write(tmp_path, POLICY))


def test_reads_every_key(policy, tmp_path):
    d = policy.deadline("gradient_descent")
    assert (policy.fraction, policy.per, policy.cap, policy.grace_days, policy.counts) == (0.1, Per.DAY, 0.35, 2,
                                                                                          Counts.BEST)
    assert policy.grace_ledger == tmp_path / "ledger.json"
    assert d.title == "HW1" and d.canvas_id == "4101"
    assert d.due == at(2, 23, 59) and d.cutoff == at(9, 23, 59)  # local times in the policy's zone
    assert d.for_student("s0007") == (at(4, 23, 59), at(11, 23, 59))  # the cutoff moves with the extension


def test_on_time_late_grace_cap_and_cutoff(policy):
    late = lambda t, grace=0, sid="s1": policy.lateness("gradient_descent", sid, t, "test", grace)  # noqa: E731
    on_time = late(at(2, 23, 59))
    assert (on_time.fraction, on_time.late_seconds, on_time.grace_days) == (0, 0, 0) and "on time" in on_time.how
    one_minute = late(at(3, 0, 0))  # a started day is a day
    assert (one_minute.fraction, one_minute.late_seconds) == (0.1, 60)
    assert "1 day late x 10%: 10% of the score taken off" in one_minute.how
    three_days = late(at(5, 12))  # 2 d 12 h 1 min late: 3 started days
    assert three_days.fraction == 0.3
    capped = late(at(7, 12))  # 5 days: 50%, capped at 35%
    assert capped.fraction == 0.35 and "capped at 35%" in capped.how
    graced = late(at(5, 12), grace=2)  # 2 grace days cover 48 h; 12 h 1 min left: one day
    assert (graced.grace_days, graced.fraction) == (2, 0.1) and "2 grace days used (0 left)" in graced.how
    covered = late(at(3, 20), grace=2)  # 20 h late: one grace day covers it
    assert (covered.grace_days, covered.fraction) == (1, 0) and "1 grace day used (1 left)" in covered.how
    after = late(at(10, 0), grace=2)
    assert (after.fraction, after.grace_days) == (1.0, 0) and "after the cutoff" in after.how
    extended = late(at(4, 22), sid="s0007")
    assert extended.fraction == 0 and "(with an extension)" in extended.how
    assert late(at(10, 0), sid="s0007").fraction == 0.35  # the extension's cutoff is two days later


def test_per_hour(tmp_path):
    p = read_policy(write(tmp_path, POLICY.replace('per = "day"', 'per = "hour"').replace("0.1\n", "0.02\n")))
    assert p.lateness("gradient_descent", "s1", at(3, 2, 30), "t").fraction == 0.06  # 2 h 31 min: 3 started hours


@pytest.mark.parametrize("change, line, words", [
    (("due = 2026-10-02T23:59:00", 'due = "2026-10-32 23:59"'), 13, "cannot read '2026-10-32 23:59' as a date"),
    (("due = 2026-10-02T23:59:00", "due = 2026-10-02"), 13, "has no time of day"),
    (("cutoff = 2026-10-09T23:59:00", "cutoff = 2026-10-01T23:59:00"), 14, "is before the due date"),
    (("s0007 = 2026-10-04T23:59:00", "s0007 = 2026-09-04T23:59:00"), 18, "extension"),
    (('per = "day"', 'per = "week"'), 7, 'expected "day" or "hour"'),
    (("cap = 0.35", "cap = 1.5"), 9, "expected a number from 0 to 1"),
    (('counts = "best"', 'counts = "first"'), 4, "expected one of"),
    (("grace_days = 2", "grace_days = -1"), 2, "whole number of days"),
    (('timezone = "America/New_York"', 'timezone = "Mars/Olympus"'), 1, "no time zone 'Mars/Olympus'"),
    (('title = "HW1"', 'titel = "HW1"'), 12, "unknown key in [assignments.gradient_descent]"),
])
def test_errors_name_the_file_the_line_and_what_was_expected(tmp_path, change, line, words):
    path = write(tmp_path, POLICY.replace(*change))
    with pytest.raises(PolicyError) as e:
        read_policy(path)
    assert str(e.value).startswith(f"{path}:{line}: ") and words in str(e.value), str(e.value)


def test_syntax_errors_and_missing_parts(tmp_path):
    with pytest.raises(PolicyError, match=r"not valid TOML: .*line 6"):
        read_policy(write(tmp_path, POLICY.replace("[late_penalty]", "[late_penalty")))
    with pytest.raises(PolicyError, match="has no due date"):
        read_policy(write(tmp_path, POLICY.replace("due = 2026-10-02T23:59:00\n", "")))
    with pytest.raises(PolicyError, match="needs grace_ledger"):
        read_policy(write(tmp_path, POLICY.replace('grace_ledger = "ledger.json"\n', "")))
    with pytest.raises(PolicyError, match=r"no \[assignments.mlp_backprop\] table"):
        read_policy(write(tmp_path, POLICY)).deadline("mlp_backprop")
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        read_policy(tmp_path / "nowhere.toml")


def test_gradescope_metadata(policy):
    """The zip's side: Gradescope's dates, an extension under users[0], late_due_date as the cutoff;
    with a grace-day pool the penalty waits for the course's export; without dates, nothing."""
    settings = {**policy.to_gradescope("gradient_descent"), "grace_days": 0}
    meta = {"created_at": "2026-10-04T01:00:00.000000-04:00",
            "assignment": {"due_date": "2026-10-02T23:59:00.000000-04:00",
                           "late_due_date": "2026-10-06T23:59:00.000000-04:00"},
            "users": [{"email": "a@b.edu", "id": 1, "name": "A"}]}
    late = late_policy.from_gradescope(settings, meta)
    assert late.fraction == 0.2 and late.cutoff.startswith("2026-10-06T23:59")  # 1 d 1 h 1 min: 2 days
    own = {**meta, "users": [{"assignment": {"due_date": "2026-10-04T23:59:00-04:00"}}]}
    assert late_policy.from_gradescope(settings, own).fraction == 0
    after = {**meta, "created_at": "2026-10-07T00:00:00-04:00"}
    assert late_policy.from_gradescope(settings, after).fraction == 1.0
    pooled = late_policy.from_gradescope({**settings, "grace_days": 2}, meta)
    assert pooled.fraction == 0 and "applied when the course's grades are exported" in pooled.how
    assert late_policy.from_gradescope(settings, {"created_at": "yesterday"}) is None
    assert late_policy.from_gradescope(settings, ["not", "a", "dict"]) is None


def test_lateness_is_elapsed_time_across_a_change_of_summer_time(tmp_path):
    """New York leaves summer time on 2026-11-01 at 02:00: from Oct 31, 12:00 (EDT) to Nov 1,
    11:30 (EST) is 24 h 30 min, not the 23 h 30 min the wall clock shows."""
    text = POLICY.replace('per = "day"', 'per = "hour"').replace("fraction = 0.1\n", "fraction = 0.01\n")
    text = text.replace("due = 2026-10-02T23:59:00", "due = 2026-10-31T12:00:00")
    text = text.replace("cutoff = 2026-10-09", "cutoff = 2026-11-09")
    text = text.replace("s0007 = 2026-10-04", "s0007 = 2026-11-04")
    p = read_policy(write(tmp_path, text))
    from zoneinfo import ZoneInfo
    submitted = dt.datetime(2026, 11, 1, 11, 30, tzinfo=ZoneInfo("America/New_York"))
    late = p.lateness("gradient_descent", "s1", submitted, "t", grace_left=0)
    assert late.late_seconds == 24.5 * 3600 and late.fraction == 0.25  # 25 started hours


def test_a_penalty_that_reaches_the_cap_exactly_is_not_called_capped(tmp_path):
    p = read_policy(write(tmp_path, POLICY.replace("cap = 0.35", "cap = 0.3")))
    late = p.lateness("gradient_descent", "s1", at(5, 12), "t")  # 3 started days x 10% = 30%
    assert late.fraction == 0.3 and "capped" not in late.how
