"""reply_clock: a call's limit counts CPU seconds and seconds of waiting apart, never time queued
for a CPU; the submission's budget is wall-clock. Time is a fake clock here, so no test waits."""
import pytest

from autograder import reply_clock
from autograder.reply_clock import FAST_REPLY, ReplyClock, TimedOut


@pytest.fixture
def clock(monkeypatch):
    """A fake monotonic clock; ``now[0]`` is its reading."""
    now = [100.0]
    monkeypatch.setattr(reply_clock.time, "monotonic", lambda: now[0])
    return now


def test_nothing_is_measured_in_the_first_fast_reply_seconds(clock):
    c = ReplyClock.starting_now(2.0)
    asked = []
    step = c.next_look(lambda: asked.append(1) or (0.0, 0.0), "calling f")
    assert asked == [] and step == pytest.approx(FAST_REPLY)


def test_cpu_seconds_past_the_limit_time_out_naming_cpu(clock):
    c = ReplyClock.starting_now(2.0)
    clock[0] += 2 * FAST_REPLY
    c.next_look(lambda: (10.0, 0.0), "calling f")  # the base: 10 s of CPU before the call
    clock[0] += 1.9
    assert c.next_look(lambda: (11.8, 0.0), "calling f") > 0
    clock[0] += 0.3
    with pytest.raises(TimedOut, match=r"^timed out after 2 s of CPU time calling f$"):
        c.next_look(lambda: (12.1, 0.0), "calling f")


def test_waiting_past_the_limit_times_out_naming_waiting_and_the_cpu_used(clock):
    c = ReplyClock.starting_now(2.0)
    clock[0] += 2 * FAST_REPLY
    c.next_look(lambda: (0.0, 0.0), "calling f")
    clock[0] += 2.5  # 0.5 s computing, 2 s sleeping
    with pytest.raises(TimedOut, match=r"2 s of waiting calling f \(sleeping or blocked, not computing; "
                                       r"it computed for 0\.5 s\)"):
        c.next_look(lambda: (0.5, 0.0), "calling f")


def test_time_queued_for_a_cpu_counts_as_neither(clock):
    """On a busy machine: 30 s of wall clock, 1 s computing and 28.5 s queued is within 2 s."""
    c = ReplyClock.starting_now(2.0)
    clock[0] += 2 * FAST_REPLY
    c.next_look(lambda: (0.0, 0.0), "calling f")
    clock[0] += 30.0
    assert c.next_look(lambda: (1.0, 28.5), "calling f") >= 0.02


def test_the_submissions_budget_is_wall_clock(clock):
    c = ReplyClock.starting_now(60.0, deadline=clock[0] + 5, budget=600)
    clock[0] += 4.0
    assert c.next_look(lambda: (0.0, 4.0), "loading") <= 1.0  # never sleeps past the deadline
    clock[0] += 1.0
    with pytest.raises(TimedOut, match=r"time budget of 600 s \(wall clock\) is used up"):
        c.next_look(lambda: (0.0, 5.0), "loading")


def test_a_worker_whose_usage_cannot_be_read_falls_back_to_twice_the_limit(clock):
    c = ReplyClock.starting_now(2.0)
    clock[0] += 3.9
    assert c.next_look(lambda: None, "calling f") == pytest.approx(0.05)
    clock[0] += 0.1
    with pytest.raises(TimedOut, match=r"after 4 s \(wall clock\)"):
        c.next_look(lambda: None, "calling f")
