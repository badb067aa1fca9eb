"""Run an assignment's checks with plain pytest against one submission, for check authors:

    pytest autograder/assignments/gradient_descent/checks.py --submission path/to/notebook.ipynb

Each check gets ``sub`` (a fresh fork of the sandboxed submission) and ``ref`` (the reference),
exactly as in ``autograder grade``; pytest's report replaces the gradebook.
"""
from pathlib import Path

import pytest

from autograder import grade
from autograder.checks import Student


def pytest_addoption(parser):
    parser.addoption("--submission", help="submission (.ipynb or .py) to run the checks against")


def _assignment_of(request):
    return Path(request.node.fspath).parent.name


@pytest.fixture(scope="session")
def _graders():
    graders = {}
    yield graders
    for grader, worker in graders.values():
        worker.close()
        grader.close()


@pytest.fixture
def ref(request, _graders):
    return _loaded(request, _graders)[0].ref


@pytest.fixture
def sub(request, _graders):
    _, worker = _loaded(request, _graders)
    with worker.session() as session:
        yield Student(session, worker.names)


def _loaded(request, graders):
    path = request.config.getoption("--submission")
    if not path:
        pytest.skip("no --submission given")
    name = _assignment_of(request)
    if name not in graders:
        grader = grade.Grader(name)
        result = grade.SubmissionResult("", path)
        worker = grader.start_worker(Path(path), result)
        if worker is None:
            grader.close()
            pytest.fail("; ".join(result.messages))
        graders[name] = (grader, worker)
    grader, worker = graders[name]
    if not worker.alive:  # a previous check crashed or timed out: start over
        worker.close()
        worker = grader.start_worker(Path(path), grade.SubmissionResult("", path))
        graders[name] = (grader, worker)
    return graders[name]
