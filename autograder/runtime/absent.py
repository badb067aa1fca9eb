"""Modules a worker does without: the NumPy-only rule, enforced where student code cannot undo it.

A call made with ``forbid=["torch"]`` runs in a worker forked from a template that never
imported torch, whose file system does not hold torch's folder (the grader hides it, as it
hides the checks: ``sandbox.Environment.plan``). Removing an import hook or putting modules
back into ``sys.modules`` finds nothing: torch is not in the process and cannot be loaded.

So that a notebook whose first cell says ``import torch`` still loads there, ``import torch``
(and ``import torch.nn as nn``, ``from torch import nn``) gives a stand-in module: any use of
it is recorded in ``USES`` (what the check reports) and raises ``ForbiddenUse``.
"""
import importlib.abc
import importlib.machinery
import sys
import types

USES: list[str] = []  # what the code under test reached for (the worker clears it per call)


class ForbiddenUse(AttributeError):
    """A forbidden module was used. An AttributeError, so that ``from torch import nn`` is
    still resolved by importing the (stand-in) submodule."""


class ForbiddenModule(types.ModuleType):
    """Stands in for a module this worker does not have."""

    def __getattr__(self, attr):
        full = f"{self.__name__}.{attr}"
        if full in sys.modules:
            return sys.modules[full]
        if attr.startswith("__") and attr.endswith("__"):  # the import system asking, not student code
            raise AttributeError(attr)
        # Recorded when student code (compiled as "<cell N>" or "<submission>") asked, not a
        # library probing what is loaded (matplotlib looks for torch.Tensor): either way it fails.
        if sys._getframe(1).f_code.co_filename.startswith("<"):
            USES.append(full)
        raise ForbiddenUse(f"{full} used where only NumPy is allowed")


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, names, stand_in):
        self.names, self.stand_in = tuple(names), stand_in

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] not in self.names:
            return None
        if not self.stand_in:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        module = ForbiddenModule(spec.name)
        module.__path__ = []
        module.__forbidden__ = True  # codec's _torch() looks here: not a real torch
        return module

    def exec_module(self, module):
        pass


def install(names, stand_in):
    """Make ``names`` (and their submodules) unimportable: ``stand_in`` False raises
    ModuleNotFoundError (the template, before it imports anything: stand_ins then know torch is
    absent), True gives ``ForbiddenModule`` stand-ins (the worker, before student code)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
    if names:
        sys.meta_path.insert(0, _Finder(names, stand_in))


def is_stand_in(module) -> bool:
    return isinstance(module, types.ModuleType) and vars(module).get("__forbidden__") is True
