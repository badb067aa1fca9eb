"""An assignment's checks: each declared with ``@checks.add(task=..., points=...)`` on a
``Registry``, the graded function taken from the assignment's declaration."""
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

VISIBILITIES = ("visible", "hidden")

CheckFunction = Callable[[Any, Any], None]  # test_x(sub: SubmissionCaller, ref: Caller) -> None


@dataclass
class Check:
    name: str
    task: str
    function: str
    points: float
    hidden: bool
    fn: CheckFunction = field(repr=False)
    doc: str = ""

    @property
    def seed(self) -> int:
        """Stable per-check seed: the same submission always sees the same random inputs."""
        return zlib.crc32(self.name.encode()) % 2**31


class Registry:
    """The ordered checks of one assignment."""

    def __init__(self, assignment: str, declared: Iterable[Check] = ()):
        self.assignment = assignment
        self._declared: list[Check] = list(declared)

    def add(self, task: str, points: float, hidden: bool = False, function: str | None = None
            ) -> Callable[[CheckFunction], CheckFunction]:
        """Register the decorated function as a check of ``task`` worth ``points``.

        Parameters:
            task: the task id it grades ("1.3"), one the assignment's declaration lists; the
                graded function is the one the declaration names for it.
            points: what passing it earns (a positive number).
            hidden: shown to students only once grades are published (never in the handout).
            function: the graded function's name; only as a cross-check of the declaration.
        """
        def register(fn: CheckFunction) -> CheckFunction:
            doc = (fn.__doc__ or "").strip().split("\n")[0]
            # ``function`` is filled in from the declaration's tasks by ``assignments.get``.
            self._declared.append(Check(fn.__name__, task, function or "", points, hidden, fn, doc))
            return fn
        return register

    def __iter__(self) -> Iterator[Check]:
        return iter(self._declared)

    def __len__(self) -> int:
        return len(self._declared)

    @property
    def total(self) -> float:
        return sum(c.points for c in self._declared)
