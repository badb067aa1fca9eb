import functools
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from autograder import assignments, batch, build, grade, sandbox, worker_uids  # noqa: E402
from autograder.isolation import Mode, probe  # noqa: E402
from autograder.runtime import processes, scratch  # noqa: E402
from autograder.checking import Ref  # noqa: E402
from autograder.assignments.gradient_descent import checks as gd_checks  # noqa: E402

import variants  # noqa: E402


# The fast loop (`python -m pytest -m "not slow"`, under two minutes): these modules' tests.
# Every other test is marked slow: it grades batches, runs otter, notebooks, containers or a
# cluster (the README's test command runs them all).
FAST_MODULES = {"test_codec", "test_loader", "test_regrade_diff", "test_submission", "test_replies", "test_data",
                "test_grace_ledger", "test_course_grades", "test_cgroups", "test_gradescope_export", "test_cli",
                "test_text", "test_roster", "test_late_policy", "test_lms_export", "test_reply_clock", "test_report",
                "test_sandbox"}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__ not in FAST_MODULES:
            item.add_marker(pytest.mark.slow)


@functools.cache
def isolated_modes():
    """The namespace modes this machine offers: as root "root" and "user" (a user namespace
    entered as root), as an ordinary user "user" where the kernel allows it."""
    return [m.value for m in ((Mode.ROOT, Mode.USER) if os.geteuid() == 0 else (Mode.USER,)) if not probe(m)]


@functools.cache
def uid_mode_works():
    """As root: whether the uid mode (a container's default security) works here."""
    return os.geteuid() == 0 and not probe(Mode.UID)


def worker_processes():
    """PIDs of processes that belong to a grader: templates and workers (forked from a
    template, so the same command line) and anything running as a worker's own uid."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            uid = os.stat(f"/proc/{pid}").st_uid
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"agr_runtime" in cmdline or worker_uids.UID_BASE <= uid < worker_uids.UID_BASE + worker_uids.UID_COUNT:
            found.add(int(pid))
    return found


def scratch_folders():
    return set(Path(tempfile.gettempdir()).glob("autograder-*"))


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    """The suite fails if a worker process or a scratch folder outlives it (given a few
    seconds: the kernel ends a namespace's processes asynchronously); they are removed then,
    so a failure does not slow down what runs next."""
    workers_before, scratch_before = worker_processes(), scratch_folders()
    yield
    deadline = time.monotonic() + 10
    while True:
        procs = processes.table()
        workers = {p for p in worker_processes() - workers_before if p in procs and procs[p][2] not in "ZX"}
        folders = scratch_folders() - scratch_before
        if (not workers and not folders) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    described = [f"{p}: {Path(f'/proc/{p}/cmdline').read_bytes()[:100]!r}" for p in workers
                 if os.path.exists(f"/proc/{p}")]
    for pid in workers:
        processes.kill_tree(pid)
    for folder in folders:
        scratch.remove_tree(folder)
    assert not workers and not folders, f"left behind: processes {described}, folders {sorted(map(str, folders))}"


class Workers:
    """Starts workers for a test (``start``) and closes every one at teardown."""

    def __init__(self):
        self.started = []

    def start(self, env, code_or_path, tmp_path, without=(), **limits):
        path = Path(code_or_path) if isinstance(code_or_path, Path) else tmp_path / f"s{time.monotonic_ns()}.py"
        if not isinstance(code_or_path, Path):
            path.write_text(code_or_path)
        w = sandbox.Worker(path, env, sandbox.Limits(**{"call_timeout": 10, "load_timeout": 20, **limits}),
                           without=without)
        self.started.append(w)
        return w.start()


@pytest.fixture
def workers():
    made = Workers()
    yield made
    for w in made.started:
        w.close()


@pytest.fixture(scope="session")
def gd():
    return assignments.get("gradient_descent")


def variant_batch(tmp_path_factory, assignment, module, extra=None):
    """Every variant ``module`` makes of an assignment (tests/variants*.py: the reference, its
    notebook, the stub, each known bug and each correct alternative), plus ``extra(folder)``'s,
    graded in one batch through grade_all, as the CLI does. Returns {submission name:
    SubmissionResult} and the output folder."""
    subs = tmp_path_factory.mktemp(f"{assignment.name}_subs")
    out = tmp_path_factory.mktemp(f"{assignment.name}_out")
    variants.write(subs, "reference", module.reference_text())
    build.write_solution_notebook(assignment, subs / "reference_notebook.ipynb")
    (subs / "stub.ipynb").write_text(assignment.stub.read_text())
    for name in module.BUGS:
        variants.write(subs, f"bug_{name}", module.bug_variant(name))
    for name in module.ALTERNATIVES:
        variants.write(subs, f"alt_{name}", module.alternative_variant(name))
    if extra is not None:
        extra(subs)
    results = batch.grade_all(assignment.name, [subs], out, progress=False)
    return {r.submission: r for r in results}, out


@pytest.fixture(scope="session")
def gd_batch(tmp_path_factory, gd):
    """Every gradient_descent variant and one that hard-codes the seed example's losses:
    {submission name: SubmissionResult} and the output folder."""
    def hard_coded(subs):
        ref = grade.Reference(grade.load_reference(gd))
        X, Y = gd_checks.seed_data()
        seed_losses = ref.call("fit_GD", Ref(gd_checks.MODEL), Ref(gd_checks.LOSS), X, Y, 0.01, 20)
        variants.write(subs, "bug_hard_coded_losses", variants.hard_coded_variant(seed_losses))
    return variant_batch(tmp_path_factory, gd, variants, hard_coded)


@pytest.fixture(scope="session")
def mlp():
    return assignments.get("mlp_backprop")


@pytest.fixture(scope="session")
def mlp_batch(tmp_path_factory, mlp):
    """Every mlp_backprop variant graded in one batch: {name: SubmissionResult}."""
    import variants_mlp
    return variant_batch(tmp_path_factory, mlp, variants_mlp)[0]


@pytest.fixture(scope="session")
def linear():
    return assignments.get("linear_classifier")


@pytest.fixture(scope="session")
def linear_batch(tmp_path_factory, linear):
    """Every linear_classifier variant graded in one batch: {name: SubmissionResult}."""
    import variants_linear
    return variant_batch(tmp_path_factory, linear, variants_linear)[0]


@pytest.fixture(scope="session")
def mnist():
    return assignments.get("mnist_study")


@pytest.fixture(scope="session")
def mnist_study_run(mnist):
    """The reference notebook executed top to bottom on the embedded sample: the whole study,
    as a student runs it (shared with `autograder check`, cached by the solution's content).
    Returns the folder holding study_results.json and mnist_model.pt, and the executed notebook."""
    import nbformat

    from autograder import verify
    folder = verify.reference_run(mnist)
    return folder, nbformat.read(folder / "mnist_study.ipynb", as_version=4)


@pytest.fixture(scope="session")
def mnist_batch(tmp_path_factory, mnist, mnist_study_run):
    """Every mnist_study variant graded in one batch: {name: SubmissionResult}."""
    import variants_mnist
    folder, _ = mnist_study_run
    subs = tmp_path_factory.mktemp("mnist_subs")
    ref = variants_mnist.reference_text()
    variants_mnist.make_folder(subs / "reference", ref, folder)
    (subs / "stub").mkdir()
    (subs / "stub" / "mnist_study.ipynb").write_text(mnist.stub.read_text())
    for name, (edits, _) in variants_mnist.CODE_BUGS.items():
        variants_mnist.make_folder(subs / f"bug_{name}", variants.patch(ref, edits), folder)
    for name, (change, _) in variants_mnist.FILE_BUGS.items():
        variants_mnist.make_folder(subs / f"bug_{name}", ref, folder, change)
    results = batch.grade_all("mnist_study", [subs], tmp_path_factory.mktemp("mnist_out"), progress=False)
    return {r.submission: r for r in results}


CALL_TIMEOUT = 5  # seconds per call into student code in the test zips (the shipped default is 30)


@pytest.fixture(scope="session")
def dist(tmp_path_factory):
    """Each assignment built once into a temporary dist/: {name: build.Dist}."""
    root = tmp_path_factory.mktemp("dist")
    return {name: build.build_dist(assignments.get(name), root / name, call_timeout=CALL_TIMEOUT)
            for name in assignments.NAMES}
