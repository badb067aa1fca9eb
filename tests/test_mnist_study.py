"""mnist_study: the study runs on the sample, the reference folder earns full marks, the stub
zero, every listed bug loses the points of its checks; zips grade like folders."""
import json
import zipfile

import pytest

import variants
import variants_mnist
from autograder import batch


def failed(result):
    return {c.name for c in result.checks if c.score < c.points}


def test_reference_study_runs_and_writes_its_files(mnist_study_run):
    folder, nb = mnist_study_run
    results = json.loads((folder / "study_results.json").read_text())
    assert sorted(results) == sorted(["32,0.1", "32,1.0", "32,0.01", "8,0.1", "128,0.1"])
    assert all(len(r["train_losses"]) == 20 for r in results.values())
    assert results["32,0.1"]["test_acc"] >= 90.0  # the sample's stated threshold
    assert (folder / "mnist_model.pt").stat().st_size > 2_000_000


def test_committed_reference_study_is_what_the_reference_produces(mnist_study_run):
    """Feedback pages plot students' studies against solutions/mnist_study/reference_study_results.json
    (made by make_reference_results.py); it must still be the reference's study on the sample."""
    import numpy as np
    from autograder.assignments.mnist_study import checks as mnist_checks
    folder, _ = mnist_study_run
    fresh = json.loads((folder / "study_results.json").read_text())
    committed = mnist_checks.reference_study()
    assert sorted(committed) == sorted(fresh)
    for key, entry in fresh.items():
        # Same seeds and data, but CPUs differ in their matrix kernels (AVX2, AVX-512, AMX), so
        # float rounding differs, and at batch size 8 it grows epoch by epoch (measured: final
        # losses 14x apart between two Xeons). What a stale file would change, and rounding does
        # not: the first epoch's loss, where training diverges, and the accuracy reached.
        ours, theirs = np.array(committed[key]["train_losses"]), np.array(entry["train_losses"])
        assert len(ours) == len(theirs) and (np.isnan(ours) == np.isnan(theirs)).all(), key
        np.testing.assert_allclose(ours[:1], theirs[:1], rtol=0.01, err_msg=key)
        assert abs(committed[key]["test_acc"] - entry["test_acc"]) < 3, key  # measured: up to 1.0 apart


def test_reference_full_marks(mnist_batch, mnist):
    r = mnist_batch["reference"]
    assert r.status == "ok", r.messages
    assert r.score == r.max_score == mnist.total, {c.name: c.output for c in r.checks if c.score < c.points}


def test_stub_scores_zero_with_clean_messages(mnist_batch):
    r = mnist_batch["stub"]
    assert r.status == "ok" and r.score == 0
    for c in r.checks:
        assert "NotImplementedError: Task" in c.output or "missing from the submission" in c.output, c.output


@pytest.mark.parametrize("bug", sorted(variants_mnist.CODE_BUGS) + sorted(variants_mnist.FILE_BUGS))
def test_each_bug_loses_the_points_of_its_checks(mnist_batch, bug):
    r = mnist_batch[f"bug_{bug}"]
    must_fail = set({**variants_mnist.CODE_BUGS, **variants_mnist.FILE_BUGS}[bug][1])
    assert must_fail <= failed(r), f"{bug}: expected {must_fail} to fail, failed: {failed(r)}"


def test_fraction_accuracy_message_says_percent(mnist_batch):
    msg = next(c.output for c in mnist_batch["bug_accuracy_as_fraction"].checks if c.name == "test_evaluate_percent")
    assert "expected percent" in msg


def test_zip_grades_like_the_folder_and_unsafe_zip_is_refused(tmp_path, mnist, mnist_study_run):
    folder, _ = mnist_study_run
    sub = variants_mnist.make_folder(tmp_path / "alice", variants_mnist.reference_text(), folder)
    (tmp_path / "subs").mkdir()
    with zipfile.ZipFile(tmp_path / "subs" / "alice.zip", "w") as z:
        for f in sub.iterdir():
            z.write(f, f"alice/{f.name}")
    with zipfile.ZipFile(tmp_path / "subs" / "mallory.zip", "w") as z:
        z.writestr("../../escape.py", "print('x')")
    results = {r.submission: r for r in batch.grade_all("mnist_study", [tmp_path / "subs"], tmp_path / "out",
                                                        progress=False)}
    assert results["alice"].score == mnist.total
    assert results["mallory"].status == "error" and results["mallory"].score == 0
    assert "points outside the submission" in results["mallory"].messages[0]
    assert not (tmp_path / "escape.py").exists()


def test_grading_stays_under_a_minute_whatever_the_submission_does(tmp_path, mnist, mnist_study_run):
    """Every graded function hangs: the per-submission budget (55 s) still ends grading in time;
    the check that needs none of them keeps its point and every other says what happened."""
    folder, _ = mnist_study_run
    hang = "        while True:\n            pass\n"
    edits = [("Net.forward", "        x = x.reshape(x.shape[0], -1)\n", hang),
             ("train", "    optimizer = optim.SGD(model.parameters(), lr=lr)\n", hang.replace("        ", "    ", 1)),
             ("evaluate", "    was_training = model.training\n", hang.replace("        ", "    ", 1)),
             ("plot_losses", "    fig, ax = plt.subplots(figsize=(7, 4))\n", hang.replace("        ", "    ", 1))]
    text = variants.patch(variants_mnist.reference_text(), edits)
    variants_mnist.make_folder(tmp_path / "subs" / "hangs", text, folder)
    [r] = batch.grade_all("mnist_study", [tmp_path / "subs"], tmp_path / "out", progress=False)
    assert r.seconds < 60, r.seconds
    assert r.status == "timeout"
    passed = {c.name for c in r.checks if c.score == c.points}
    assert passed == {"test_net_architecture"}
    for c in r.checks:
        if c.name not in passed:
            assert "timed out" in c.output or "time budget" in c.output, (c.name, c.output)


def save_as_if_on_a_gpu(state, path):
    """``torch.save`` of ``state`` with every storage tagged "cuda:0", as a model trained on
    Colab's GPU saves it; written without a GPU by naming the location torch records."""
    import torch
    import torch.serialization as serialization
    real = serialization.location_tag
    serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(state, path)
    finally:
        serialization.location_tag = real


def test_weights_saved_on_a_gpu_are_graded_on_the_cpu(tmp_path, mnist, mnist_study_run):
    """A state_dict saved from a CUDA model (Colab) earns the same points as the CPU one."""
    import torch
    folder, _ = mnist_study_run
    sub = variants_mnist.make_folder(tmp_path / "subs" / "colab_gpu", variants_mnist.reference_text(), folder)
    state = torch.load(folder / "mnist_model.pt", weights_only=True)
    save_as_if_on_a_gpu(state, sub / "mnist_model.pt")
    with zipfile.ZipFile(sub / "mnist_model.pt") as z:  # the tags are really there
        pickled = next(z.read(n) for n in z.namelist() if n.endswith("data.pkl"))
    assert b"cuda:0" in pickled and b"cpu" not in pickled
    if not torch.cuda.is_available():  # as on the grader: a plain load would fail
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(sub / "mnist_model.pt", weights_only=True)
    (result,) = batch.grade_all("mnist_study", [sub], tmp_path / "out", progress=False)
    assert result.score == mnist.total, [(c.name, c.output) for c in result.checks if c.score < c.points]
