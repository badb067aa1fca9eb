"""How long the grader waits for one reply from a worker (``sandbox.Worker.recv``).

A call's time limit counts two things apart: CPU seconds of all the worker's processes, and
seconds it spent waiting (sleeping or blocked: neither computing nor queued for a CPU). Time
queued behind other work on a busy machine counts as neither, so a correct call times out the
same way on a busy machine as on an idle one. The submission's whole time budget, where it
ends sooner, is wall-clock.
"""
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

CPUS = os.cpu_count() or 1
FAST_REPLY = 0.05  # seconds of a call before its CPU time is read (most replies come sooner)

Usage = Callable[[], "tuple[float, float] | None"]  # (CPU seconds, seconds queued), None once gone


class TimedOut(Exception):
    """The reply did not come within the limit; the message says which limit and how long."""


@dataclass
class ReplyClock:
    """One wait for a reply."""
    limit: float  # seconds of CPU time; and, separately, seconds of waiting
    start: float  # monotonic
    deadline: float | None = None  # the submission's time budget ends (monotonic), if sooner
    budget: float | None = None  # that budget in seconds (for the message)
    base: tuple[float, float, float] | None = None  # (monotonic, CPU, queued) when first measured

    @classmethod
    def starting_now(cls, limit: float, deadline: float | None = None, budget: float | None = None
                     ) -> "ReplyClock":
        return cls(limit, time.monotonic(), deadline, budget)

    def next_look(self, usage: Usage, doing: str) -> float:
        """Seconds to wait for the reply before measuring again, or ``TimedOut`` naming the limit
        passed (``doing`` says during what, for the message)."""
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            raise TimedOut(f"timed out {doing}: the submission's time budget of {self.budget:g} s "
                           "(wall clock) is used up")
        if now - self.start < FAST_REPLY:  # most replies come before anything is measured
            step = self.start + FAST_REPLY - now
        elif (found := usage()) is None:  # the keeper is gone: the read after this sees the end
            if now - self.start >= 2 * self.limit:  # or /proc cannot be read: the wall clock, then
                raise TimedOut(f"timed out after {2 * self.limit:g} s (wall clock) {doing}")
            step = 0.05
        else:
            if self.base is None:
                self.base = (now, *found)  # the call's first FAST_REPLY seconds are not counted
            cpu = found[0] - self.base[1]
            waited = (now - self.base[0]) - cpu - (found[1] - self.base[2])
            if not cpu < self.limit:
                raise TimedOut(f"timed out after {self.limit:g} s of CPU time {doing}")
            if not waited < self.limit:
                raise TimedOut(f"timed out after {self.limit:g} s of waiting {doing} (sleeping or blocked, "
                               f"not computing; it computed for {cpu:.1f} s)")
            # CPU time runs at most CPUS times as fast as the clock, waiting as fast.
            step = max(0.02, min((self.limit - cpu) / CPUS, self.limit - waited))
        if self.deadline is not None:
            step = min(step, self.deadline - now)
        return max(0.0, step)

    def measured_for(self, seconds: float) -> bool:
        """Whether the wait has lasted ``seconds`` (from its start)."""
        return time.monotonic() - self.start >= seconds
