"""Run an assignment's checks with plain pytest against one submission, for check authors:

    pytest autograder/assignments/gradient_descent/checks.py --submission path/to/notebook.ipynb

Each check gets ``sub`` (a fresh fork of the sandboxed submission) and ``ref`` (the reference),
exactly as in ``autograder grade``; pytest's report replaces the gradebook.
"""
from pathlib import Path

import pytest

from autograder import grade, sandbox, submission
from autograder.checking import Student


def pytest_addoption(parser):
    parser.addoption("--submission", help="submission (.ipynb or .py) to run the checks against")


def _assignment_of(request):
    return Path(request.node.fspath).parent.name


@pytest.fixture(scope="session")
def _graders():
    graders = {}
    yield graders
    for grader, workers in graders.values():
        workers.close()
        workers.handed_in.close()
        grader.close()


@pytest.fixture
def ref(request, _graders):
    return _loaded(request, _graders)[0].ref


@pytest.fixture
def sub(request, _graders):
    _, workers = _loaded(request, _graders)
    yield Student(sandbox.Session(workers.main, workers.other), workers.main.names, workers.handed_in.files)


def _loaded(request, graders):
    path = request.config.getoption("--submission")
    if not path:
        pytest.skip("no --submission given")
    name = _assignment_of(request)
    if name not in graders or not graders[name][1].main.alive:  # first use, or a check crashed the worker
        grader = graders[name][0] if name in graders else grade.Grader(name)
        if name in graders:
            graders[name][1].close()
        handed_in = submission.open_submission(Path(path), grader.assignment.submission_files)
        workers = grade.SubmissionWorkers(grader, handed_in, grade.SubmissionResult("", path), deadline=None)
        if handed_in.problem or workers.start() is None:
            grader.close()
            pytest.fail(handed_in.problem or "; ".join(workers.result.messages))
        graders[name] = (grader, workers)
    return graders[name]
