"""Control groups for workers (root only): whatever a submission starts, its processes share
one CPU weight, one process cap and one memory cap.

Why: the scheduler shares the CPU between sessions (autogroups), but a submission whose
children each call ``setsid`` gets one share per child, so 500 busy children starve the
submission graded beside it until they are killed (measured: a 0.34 s load took 2.75 s next
to such a fork bomb). In its own CPU group the submission gets one share however many
processes it runs. The process cap (``pids.max``) and memory cap then hold for the whole
submission, not per process or per user.

Works with cgroup v1 (a hierarchy per controller, e.g. /sys/fs/cgroup/cpu) and v2 (one unified
hierarchy) wherever the grader may create groups below its own; elsewhere ``Groups.create``
returns None and workers run without (see README, Security).

Grader side only: the worker joins its groups by writing its PID to the ``cgroup.procs``
files it is given (``runtime/forkserver.py``), before it drops root.
"""
import contextlib
import os
import threading
import time
import uuid
from pathlib import Path

PREFIX = "autograder-"  # batch groups are named PREFIX + grader PID + random suffix
CONTROLLERS = ("cpu", "cpuacct", "pids", "memory")  # cpuacct: v1's CPU clock (v2: cpu.stat)


def _mounts(mountinfo: os.PathLike[str] | str = "/proc/self/mountinfo") -> dict[str, tuple[str, int]]:
    """controller -> (mount point, version) of the cgroup hierarchies this process sees."""
    found: dict[str, tuple[str, int]] = {}
    with contextlib.suppress(OSError):
        for line in Path(mountinfo).read_text().splitlines():
            left, _, right = line.partition(" - ")
            fstype, _source, options = (right.split() + ["", "", ""])[:3]
            point = left.split()[4]
            if fstype == "cgroup":
                for opt in options.split(","):
                    if opt in CONTROLLERS:
                        found.setdefault(opt, (point, 1))
            elif fstype == "cgroup2":
                with contextlib.suppress(OSError):
                    for c in Path(point, "cgroup.controllers").read_text().split():
                        if c in CONTROLLERS:
                            found.setdefault(c, (point, 2))
    return found


def _own_paths(cgroup_file: os.PathLike[str] | str = "/proc/self/cgroup") -> dict[str, str]:
    """controller (or "" for v2) -> this process's group, relative to the hierarchy's root."""
    paths = {}
    with contextlib.suppress(OSError):
        for line in Path(cgroup_file).read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                paths[c] = path.lstrip("/")
    return paths


def _remove_stale(parent: Path) -> None:
    """Remove the (by now empty) groups of graders that were killed before they could."""
    with contextlib.suppress(OSError):
        for batch in parent.glob(f"{PREFIX}*"):
            pid = batch.name[len(PREFIX):].split("-")[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                for group in batch.iterdir():
                    if group.is_dir():
                        with contextlib.suppress(OSError):
                            group.rmdir()
                with contextlib.suppress(OSError):
                    batch.rmdir()


def _write(path: Path, value: str | int) -> None:
    with open(path, "w") as f:
        f.write(str(value))


class Groups:
    """One batch's parent groups (one per hierarchy) and a child group per worker."""

    def __init__(self, bases: list[tuple[Path, int, list[str]]]) -> None:
        self.bases = bases  # [(parent dir, version, controllers in it)]
        self.pending: list[Path] = []  # worker groups whose processes were still exiting when removed
        self.lock = threading.Lock()

    @classmethod
    def create(cls) -> "Groups | None":
        """Parent groups for this batch, or None where they cannot be made (not root,
        cgroups not mounted or read-only, v2 without delegated controllers)."""
        if os.geteuid() != 0:
            return None
        mounts, own = _mounts(), _own_paths()
        by_dir: dict[tuple[Path, int], list[str]] = {}
        for c, (point, version) in mounts.items():
            here = Path(point, own.get(c if version == 1 else "", ""))
            by_dir.setdefault((here, version), []).append(c)
        name = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        bases = []
        for (here, version), controllers in sorted(by_dir.items()):
            _remove_stale(here)
            base = here / name
            try:
                base.mkdir()
                if version == 2:  # a v2 child only gets the controllers its parent passes down
                    _write(here / "cgroup.subtree_control", " ".join(f"+{c}" for c in controllers))
                    _write(base / "cgroup.subtree_control", " ".join(f"+{c}" for c in controllers))
            except OSError:
                with contextlib.suppress(OSError):
                    base.rmdir()
                continue
            bases.append((base, version, controllers))
        covered = {c for _, _, cs in bases for c in cs}
        if "cpu" not in covered:  # fairness is the point; without it, do not pretend
            for base, _, _ in bases:
                with contextlib.suppress(OSError):
                    base.rmdir()
            return None
        return cls(bases)

    @property
    def controllers(self) -> list[str]:
        return sorted(c for _, _, cs in self.bases for c in cs)

    def add(self, name: str, memory_bytes: int, max_processes: int) -> list[str]:
        """Make the groups for one worker; returns the ``cgroup.procs`` files it must join."""
        self._remove_pending()
        procs = []
        for base, version, controllers in self.bases:
            group = base / name
            group.mkdir()
            if "pids" in controllers:
                _write(group / "pids.max", max_processes)
            if "memory" in controllers:
                if version == 1:
                    _write(group / "memory.limit_in_bytes", memory_bytes)
                    with contextlib.suppress(OSError):  # absent without swap accounting
                        _write(group / "memory.memsw.limit_in_bytes", memory_bytes)
                else:
                    _write(group / "memory.max", memory_bytes)
                    with contextlib.suppress(OSError):
                        _write(group / "memory.swap.max", 0)
            procs.append(str(group / "cgroup.procs"))
        return procs

    def cpu_seconds(self, name: str) -> float | None:
        """CPU time used by all of a worker's processes so far (None if no group measures it)."""
        for base, version, controllers in self.bases:
            with contextlib.suppress(OSError, ValueError):
                if version == 1 and "cpuacct" in controllers:
                    return int((base / name / "cpuacct.usage").read_text()) / 1e9
                if version == 2:
                    for line in (base / name / "cpu.stat").read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "usage_usec":
                            return int(value) / 1e6
        return None

    def oom_kills(self, name: str) -> int:
        """How many of a worker's processes the kernel killed for passing its memory cap."""
        for base, version, controllers in self.bases:
            if "memory" in controllers:
                events = base / name / ("memory.oom_control" if version == 1 else "memory.events")
                with contextlib.suppress(OSError, ValueError):
                    for line in events.read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            return int(value)
        return 0

    def remove(self, name: str) -> None:
        """Remove a worker's groups once its processes are gone (now, or at a later call:
        the kernel kills a PID namespace's processes asynchronously)."""
        with self.lock:
            self.pending += [base / name for base, _, _ in self.bases]
        self._remove_pending()

    def _remove_pending(self) -> None:
        with self.lock:
            left = []
            for group in self.pending:
                try:
                    group.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:  # busy: processes still exiting
                    left.append(group)
            self.pending = left

    def settle(self, wait: float = 5.0) -> bool:
        """Wait (at most ``wait`` seconds) until removed workers' groups are gone."""
        deadline = time.monotonic() + wait
        while True:
            self._remove_pending()
            if not self.pending or time.monotonic() > deadline:
                return not self.pending
            time.sleep(0.02)

    def close(self) -> None:
        self.settle()
        for base, _, _ in self.bases:
            with contextlib.suppress(OSError):
                base.rmdir()


class OomWatch:
    """Whether the kernel ended one of a worker's processes for memory since last asked."""

    def __init__(self, groups: "Groups | None", name: str) -> None:
        self.groups, self.name = groups, name
        self.seen = 0  # out-of-memory kills of the worker's group, as last seen

    def new_kills(self) -> bool:
        if self.groups is None:
            return False
        seen, self.seen = self.seen, self.groups.oom_kills(self.name)
        return self.seen > seen

