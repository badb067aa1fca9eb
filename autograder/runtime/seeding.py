"""One seeding for every call into student or reference code, in the worker, in the grader and
in the student's handout: Python's ``random``, NumPy's global generator and torch's, when torch
is there (a NumPy-only handout may run where it is not)."""
import functools
import random
from types import ModuleType
from typing import Any

import numpy as np

@functools.cache
def _found() -> tuple[ModuleType | None, bool]:
    """(torch or None, whether it has no device but the CPU), found once: what student code
    later does to sys.modules is not seen."""
    try:
        import torch
    except ImportError:
        return None, False
    return torch, _cpu_only(torch)


def find_torch() -> ModuleType | None:
    """torch as first imported here (the worker template calls this before any fork), or None."""
    return _found()[0]


def _cpu_only(torch: Any) -> bool:
    """Whether this torch has no device but the CPU: no CUDA, MPS, XPU, MTIA or custom one."""
    try:
        for device in ("cuda", "xpu", "mtia"):
            module = getattr(torch, device, None)
            if module is not None and module.is_available():
                return False
        custom = hasattr(torch, torch._C._get_privateuse1_backend_name())
        return not (torch.backends.mps.is_available() or custom)
    except Exception:  # noqa: BLE001 - a torch this does not know: seed it the usual way
        return False


def seed_everything(seed: int) -> None:
    """Seed ``random``, NumPy and torch with ``seed`` (NumPy's modulo 2**32, as it requires)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch, cpu_only = _found()
    if torch is None:
        return
    if cpu_only:  # all torch.manual_seed does here; its lazy seeding of absent devices costs ~0.1 ms a call
        torch.default_generator.manual_seed(seed)
    else:
        torch.manual_seed(seed)
