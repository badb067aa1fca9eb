"""The grace days each student has used, per assignment, in one JSON file shared by the
course's batches::

    {"format": 1, "used": {"s0007": {"gradient_descent": 1, "mlp_backprop": 2}}}

A batch reads what the student used on the *other* assignments (``GraceLedger.left``) and,
when it ends, replaces its own assignment's entries (``record``): under a lock, through a
temporary file and a rename, so two batches never lose each other's update and a reader
never sees half a file. Grading an assignment again replaces its entries, never adds to them.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from ..results import atomic_write

FORMAT = 1
MAX_BYTES = 16 << 20


class LedgerError(ValueError):
    """The ledger file cannot be read as one (the message names it and says why)."""


class GraceLedger:
    """The ledger at ``path`` (it need not exist yet)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self) -> dict[str, dict[str, int]]:
        """{student id: {assignment: days used}}; empty when there is no file yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise LedgerError(f"{self.path}: cannot read the grace-day ledger: {e.strerror or e}") from None
        if len(raw) > MAX_BYTES:
            raise LedgerError(f"{self.path}: {len(raw) >> 20} MiB is not a grace-day ledger")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise LedgerError(f"{self.path}: not JSON ({e}); it is kept as it is: fix or remove it") from None
        used = data.get("used") if isinstance(data, dict) and data.get("format") == FORMAT else None
        if not isinstance(used, dict) or not all(
                isinstance(s, str) and isinstance(d, dict) and all(
                    isinstance(a, str) and isinstance(n, int) and not isinstance(n, bool) and n >= 0
                    for a, n in d.items()) for s, d in used.items()):
            raise LedgerError(f"{self.path}: expected {{\"format\": {FORMAT}, \"used\": {{student id: "
                              "{assignment: days}}}}; it is kept as it is: fix or remove it")
        return used

    def left(self, pool: int, assignment: str) -> dict[str, int]:
        """{student id: grace days left for ``assignment``}: the pool less what each used on
        other assignments (students not listed have the whole pool)."""
        return {sid: max(0, pool - sum(n for a, n in per.items() if a != assignment))
                for sid, per in self.read().items()}

    def record(self, assignment: str, used: dict[str, int]) -> dict[str, tuple[int, int]]:
        """Make ``used`` ({student id: days}) the ledger's entries for ``assignment`` (students
        not in it used none on it); {student id: (days before, days now)} for each that changed.
        LedgerError when the ledger cannot be read or written (it is then left as it was)."""
        try:
            return self._record(assignment, used)
        except OSError as e:
            raise LedgerError(f"{self.path}: cannot write the grace-day ledger: {e.strerror or e}; the batch's "
                              "results are kept, and the same command updates the ledger once it can") from None

    def _record(self, assignment: str, used: dict[str, int]) -> dict[str, tuple[int, int]]:
        with self._locked():
            ledger = self.read()
            changed = {}
            for sid in sorted(set(ledger) | set(used)):
                before = ledger.get(sid, {}).get(assignment, 0)
                now = used.get(sid, 0)
                if before != now:
                    changed[sid] = (before, now)
                per = ledger.setdefault(sid, {})
                if now:
                    per[assignment] = now
                else:
                    per.pop(assignment, None)
                if not per:
                    del ledger[sid]
            if changed or not self.path.exists():
                atomic_write(self.path, json.dumps({"format": FORMAT, "used": ledger}, indent=1, sort_keys=True))
            return changed
