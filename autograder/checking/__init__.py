"""The check-author API: how checks are declared (``registry``), what they are handed
(``fixtures``: ``sub`` and ``ref``) and how they compare answers (``comparisons``).

A check is a pytest-style function ``test_x(sub, ref)`` registered with ``@checks.add(...)``
stating its task (it grades the function the assignment's declaration names for the task), its
points and visibility. ``sub`` (``SubmissionCaller``) calls the submission in its sandbox, ``ref``
(``Caller``) the reference solution in the grader; both take the same arguments and return the
same plain types (see ``runtime/codec.py``). A check passes by returning and fails by raising
``AssertionError`` with a message for the student.
"""
from ..runtime.codec import ModuleData, Opaque, Ref, TensorData
from ..runtime.seeding import seed_everything
from .comparisons import (REAL_KINDS, as_array, assert_close, describe, expect_type, isclose, real_numbers,
                          relative_error)
from .fixtures import (CallError, Caller, CallReply, Reference, Student, StudentError, SubmissionCaller,
                       call_key)
from .registry import VISIBILITIES, Check, CheckFunction, Registry

__all__ = ["REAL_KINDS", "VISIBILITIES", "CallError", "CallReply", "Caller", "Check", "CheckFunction", "ModuleData",
           "Opaque", "Ref", "Reference", "Registry", "Student", "StudentError", "SubmissionCaller", "TensorData",
           "as_array", "assert_close", "call_key", "describe", "expect_type", "isclose", "real_numbers",
           "relative_error", "seed_everything"]
