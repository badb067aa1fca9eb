"""Run the reference notebook top to bottom on the embedded 5,000-digit sample and keep its
study_results.json as reference_study_results.json: the curves and accuracies students' study
results are plotted against on their feedback pages (a test checks it is still what the
reference produces).

    python solutions/mnist_study/make_reference_results.py
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))


def main():
    from nbclient import NotebookClient

    from autograder import assignments, build
    a = assignments.get("mnist_study")
    os.environ.pop("MNIST_DIR", None)  # the sample, whatever this machine has
    os.environ["MPLBACKEND"] = "Agg"
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(a.support_files["mnist_data.py"], Path(tmp) / "mnist_data.py")
        NotebookClient(build.solution_notebook(a.solution), timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": tmp}}).execute()
        shutil.copy(Path(tmp) / "study_results.json", HERE / "reference_study_results.json")
    print(f"wrote {HERE / 'reference_study_results.json'}")


if __name__ == "__main__":
    main()
