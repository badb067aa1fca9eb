"""What the single-notebook handout costs a student: its size, and its first cell's time.

    python benchmarks/single_notebook.py [--assignment NAME ...] [--keep-venv DIR]

Builds each handout, then in a fresh virtual environment holding only what Colab ships for
this course (NumPy, torch, matplotlib, ipykernel, pip) runs the set-up cell alone in a kernel,
as a student's first step: first where otter-grader (and mlxtend) are missing, so the cell
installs them (they are removed again before the next assignment), then in a new kernel with
a new home folder, where only the unpacking is left. Prints, per assignment, the file's size
beside the folder handout's, and the cell's time (nbclient's timestamps) with and without the
install. The installs read pip's cache when it holds the packages.
"""
import argparse
import datetime
import importlib.metadata
import json
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import assignments, build, single_notebook  # noqa: E402

COLAB_SHIPS = ("numpy", "torch", "matplotlib", "ipykernel")


def make_kernel(where: Path) -> Path:
    """A kernel spec "colab" in ``where``/jupyter; returns the JUPYTER_PATH to use."""
    env = where / "venv"
    venv.create(env, with_pip=True)
    pins = [f"{p}=={importlib.metadata.version(p)}" for p in COLAB_SHIPS]
    subprocess.run([env / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *pins], check=True)
    spec = where / "jupyter" / "kernels" / "colab"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": [str(env / "bin" / "python"), "-m", "ipykernel_launcher",
                                                           "-f", "{connection_file}"],
                                                  "display_name": "colab", "language": "python"}))
    return where / "jupyter"


def freeze(jupyter: Path) -> set[str]:
    python = jupyter.parent / "venv" / "bin" / "python"
    out = subprocess.run([python, "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def uninstall_extras(jupyter: Path, shipped: set[str]) -> None:
    """Back to what Colab ships: every package the set-up cell installed is removed."""
    python = jupyter.parent / "venv" / "bin" / "python"
    extra = [line.split("==")[0] for line in freeze(jupyter) - shipped]
    if extra:
        subprocess.run([python, "-m", "pip", "uninstall", "--quiet", "--yes", *extra], check=True)


def seconds(cell) -> float:
    t = cell.metadata["execution"]
    start = datetime.datetime.fromisoformat(t["iopub.execute_input"].replace("Z", "+00:00"))
    end = datetime.datetime.fromisoformat(t["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def first_cell(notebook: Path, jupyter: Path, home: Path, folder: Path) -> tuple[float, str]:
    """(seconds, output) of the set-up cell run alone in a fresh kernel."""
    import os
    nb = nbformat.read(notebook, as_version=4)
    nb.cells = [c for c in nb.cells if single_notebook.SETUP_TAG in c.metadata.get("tags", [])]
    folder.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "HOME")}
    os.environ.update({"JUPYTER_PATH": str(jupyter), "HOME": str(home)})
    try:
        NotebookClient(nb, timeout=900, kernel_name="colab", resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    cell = nb.cells[0]
    return seconds(cell), "".join(o.get("text", "") for o in cell.outputs)


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assignment", nargs="*", default=assignments.NAMES)
    parser.add_argument("--keep-venv", type=Path, default=None, help="build the kernel's venv here and keep it")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="single-nb-bench-"))
    try:
        start = time.monotonic()
        jupyter = make_kernel(args.keep_venv or tmp / "kernel")
        print(f"kernel venv (numpy, torch, matplotlib, ipykernel; no otter-grader, no mlxtend): "
              f"{time.monotonic() - start:.1f} s to make (not counted below)")
        shipped = freeze(jupyter)
        print(f"{'assignment':18} {'notebook':>9} {'folder':>9} {'first cell, installing':>24} "
              f"{'first cell, installed':>22}")
        for name in args.assignment:
            made = build.build_dist(assignments.get(name), tmp / "dist" / name)
            uninstall_extras(jupyter, shipped)  # each assignment's first run installs from scratch
            with_install, said = first_cell(made.notebook, jupyter, tmp / f"home-{name}-1", tmp / f"run-{name}-1")
            installed = "Installing" in said
            without, said2 = first_cell(made.notebook, jupyter, tmp / f"home-{name}-2", tmp / f"run-{name}-2")
            assert "Installing" not in said2 and "Ready" in said2, said2
            first = f"{with_install:.1f} s" if installed else f"({with_install:.1f} s, nothing left to install)"
            print(f"{name:18} {size(made.notebook) / 1e3:7.0f} kB {size(made.student) / 1e3:7.0f} kB "
                  f"{first:>24} {without:20.2f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
