"""course/grace_ledger.py: days left per assignment, an assignment's entries replaced (never
added to) when it is graded again, concurrent updates all kept, a damaged ledger kept and named."""
import json
import multiprocessing

import pytest

from autograder.course.grace_ledger import GraceLedger, LedgerError


def test_left_and_record(tmp_path):
    ledger = GraceLedger(tmp_path / "grace.json")
    assert ledger.left(3, "hw1") == {}
    assert ledger.record("hw1", {"s1": 2, "s2": 1}) == {"s1": (0, 2), "s2": (0, 1)}
    assert ledger.record("hw2", {"s1": 1}) == {"s1": (0, 1)}
    assert ledger.left(3, "hw3") == {"s1": 0, "s2": 2}
    assert ledger.left(3, "hw1") == {"s1": 2, "s2": 3}  # hw1's own days are not counted against it
    # hw1 graded again (an extension for s1): its entries are replaced, hw2's stay.
    assert ledger.record("hw1", {"s2": 1}) == {"s1": (2, 0)}
    assert json.loads((tmp_path / "grace.json").read_text())["used"] == {"s1": {"hw2": 1}, "s2": {"hw1": 1}}
    assert ledger.record("hw1", {"s2": 1}) == {}


def _record(path, assignment):
    GraceLedger(path).record(assignment, {f"s{i}": 1 for i in range(50)})


def test_concurrent_batches_keep_each_others_days(tmp_path):
    path = tmp_path / "grace.json"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record, args=(path, f"hw{k}")) for k in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    used = GraceLedger(path).read()
    assert len(used) == 50 and all(per == {f"hw{k}": 1 for k in range(6)} for per in used.values())


@pytest.mark.parametrize("text", ["{not json", '{"format": 1, "used": {"s1": {"hw1": -1}}}', '{"format": 9}',
                                  '{"format": 1, "used": {"s1": {"hw1": true}}}', "[]"])
def test_a_damaged_ledger_is_named_and_kept(tmp_path, text):
    path = tmp_path / "grace.json"
    path.write_text(text)
    with pytest.raises(LedgerError, match=str(path)):
        GraceLedger(path).record("hw1", {"s1": 1})
    assert path.read_text() == text


def test_a_ledger_that_cannot_be_written_is_named(tmp_path):
    """A folder the ledger cannot be written in (a file where its folder should be)."""
    (tmp_path / "not_a_folder").write_text("")
    with pytest.raises(LedgerError, match="cannot write the grace-day ledger"):
        GraceLedger(tmp_path / "not_a_folder" / "grace.json").record("hw1", {"s1": 1})
