"""A corpus of notebooks shaped like the ones students hand in, with labels that do not come
from the grader.

    python tests/corpus.py OUT     # writes OUT/<assignment>/<case>.{ipynb,py,zip} and OUT/labels.json

Each case is graded code (the reference, a correct alternative, or the reference with one named
bug) wrapped in one editor's way of saving it, with the mess students leave in:

  colab          nbformat 4.0 without cell ids, Colab's metadata, a first cell that mounts Drive
                 outside a try, installs and imports packages the grader lacks and runs
                 `gpu_info = !nvidia-smi`; outputs with text, an image and an error
  colab_py       Colab's "Download .py": one cell, the Drive mount at the top, shell lines as `!`
  jupyterlab     nbformat 4.5 with cell ids, cells run out of order, `%matplotlib inline`, a
                 `%%time` cell holding a definition, a 1 MB output, a `!pip install \\` continued
  classic        nbformat 4.2, `from __future__ import annotations` then a hint naming a class
                 defined further down, `input()` at the top level, a Drive mount inside a try
  vscode         nbformat 4.4, VS Code's metadata, CRLF line ends, `%pip install`, data moved to
                 CUDA (no GPU when grading)
  jupytext       a percent-format .py with a byte-order mark, CRLF line ends, `files = !ls`
  mac_zip        the jupyterlab notebook zipped on a Mac (`__MACOSX/._*`, `.DS_Store`)

``label`` says, for every graded function of a case, whether it is correct: it runs the case's
functions beside the reference's, outside the grader, on inputs of its own (``PROBES``), and
compares what they return and what they leave of their arguments.
"""
import ast
import base64
import copy
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from autograder import build  # noqa: E402

PNG = base64.b64encode(bytes.fromhex(  # one transparent pixel
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()
COLAB_CELL = ("from google.colab import drive; drive.mount('/content/drive')\n"
              "!pip install torchinfo seaborn\n"
              "gpu_info = !nvidia-smi\n"
              "gpu_info = '\\n'.join(gpu_info)\n"
              "import torchvision\n"
              "from torchinfo import summary\n")


# -- the graded code ------------------------------------------------------------------------------

def code_variants():
    """{assignment: {name: percent-format source}}: correct code and code with one named bug."""
    import variants
    import variants_linear
    gd = variants.reference_text()
    lin = variants_linear.reference_text()
    loss_lambda = gd.replace("def loss_func(y_pred, y_true):", "def _unused_loss(y_pred, y_true):", 1)
    at = loss_lambda.index("def _unused_loss(")
    loss_lambda = (loss_lambda[:at] + "loss_func = lambda y_pred, y_true: torch.mean((y_pred - y_true) ** 2)\n\n\n"
                   + loss_lambda[at:])
    accuracy_lambda = lin.replace("def accuracy(y_true, y_pred):", "def _unused_accuracy(y_true, y_pred):", 1)
    at = accuracy_lambda.index("def _unused_accuracy(")
    accuracy_lambda = (accuracy_lambda[:at] + "accuracy = lambda y_true, y_pred: "
                       "float(np.mean(np.ravel(y_true) == np.ravel(y_pred)))\n\n\n" + accuracy_lambda[at:])
    return {
        "gradient_descent": {
            "reference": gd,
            "alt_torch_optim_sgd": variants.alternative_variant("torch_optim_sgd"),
            "alt_loss_lambda": loss_lambda,
            "bug_epoch_loss_over_batch_size": variants.bug_variant("epoch_loss_over_batch_size"),
            "bug_gradient_ascent": variants.bug_variant("gradient_ascent"),
            "bug_numpy_gradient_missing_factor_2": variants.bug_variant("numpy_gradient_missing_factor_2"),
        },
        "linear_classifier": {
            "reference": lin,
            "alt_accuracy_lambda": accuracy_lambda,
            "bug_gd_step_changes_theta_in_place": variants_linear.bug_variant("gd_step_changes_theta_in_place"),
            "bug_predict_threshold_strict": variants_linear.bug_variant("predict_threshold_strict"),
        },
    }


# -- how editors save it -------------------------------------------------------------------------

def notebook(source):
    """The percent-format source as an nbformat 4.5 notebook (a dict)."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "n.py"
        path.write_text(source, encoding="utf-8")
        return json.loads(build.notebook_text(build.solution_notebook(path)))


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _text(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _set(cell, text):
    cell["source"] = text.splitlines(keepends=True)


def _cell(text, **extra):
    return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": text.splitlines(keepends=True), **extra}


def _strip_ids(nb, minor):
    nb["nbformat_minor"] = minor
    for c in nb["cells"]:
        c.pop("id", None)


def colab(source):
    nb = notebook(source)
    _strip_ids(nb, 0)
    nb["metadata"] = {"colab": {"provenance": [], "gpuType": "T4"}, "accelerator": "GPU",
                      "kernelspec": {"name": "python3", "display_name": "Python 3"},
                      "language_info": {"name": "python"}}
    first = _code_cells(nb)[0]
    _set(first, COLAB_CELL + _text(first))
    first["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["Mounted at /content/drive\n"]}]
    for i, c in enumerate(_code_cells(nb)[1:], 2):
        c["execution_count"] = i
        c["outputs"] = [{"output_type": "display_data", "data": {"image/png": PNG, "text/plain": ["<Figure>"]},
                         "metadata": {}},
                        {"output_type": "error", "ename": "NameError", "evalue": "name 'x' is not defined",
                         "traceback": ["\u001b[0;31mNameError\u001b[0m: name 'x' is not defined"]}]
    return "ipynb", json.dumps(nb, indent=2).encode()


def colab_py(source):
    """Colab's "Download .py": the cells' code one after another, shell lines kept as `!`."""
    cells = [_text(c) for c in _code_cells(notebook(source))]
    header = ('# -*- coding: utf-8 -*-\n"""Homework.ipynb\n\nAutomatically generated by Colab.\n\n'
              'Original file is located at\n    https://colab.research.google.com/drive/abc\n"""\n\n')
    return "py", (header + COLAB_CELL + "\n\n".join(cells) + "\n").encode()


def jupyterlab(source):
    nb = notebook(source)
    cells = _code_cells(nb)
    for c, n in zip(cells, [7, 3, 12, 1, 9, 4, 15, 2, 11, 6, 14, 5, 13, 8, 10] * 4):
        c["execution_count"] = n  # run out of order
    _set(cells[0], "%matplotlib inline\n!pip install torchinfo \\\n    seaborn\n" + _text(cells[0]))
    defining = next(c for c in cells if _text(c).lstrip().startswith("def "))
    _set(defining, "%%time\n" + _text(defining))
    cells[-1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["x" * 1_000_000 + "\n"]}]
    nb["cells"].insert(1, {**_cell("print(undefined_name)\n", id="a1b2c3d4"),
                           "outputs": [{"output_type": "error", "ename": "NameError", "evalue": "x",
                                        "traceback": []}]})
    return "ipynb", json.dumps(nb).encode()


def classic(source):
    nb = notebook(source)
    _strip_ids(nb, 2)
    first = _code_cells(nb)[0]
    _set(first, "from __future__ import annotations\ntry:\n    from google.colab import drive\n"
                "    drive.mount('/content/drive')\nexcept ImportError:\n    pass\n" + _text(first))
    nb["cells"].insert(2, _cell("def describe(run: Later) -> Later:\n    return run\n\nname = input('Your name: ')\n"))
    nb["cells"].append(_cell("class Later:\n    pass\n"))
    return "ipynb", json.dumps(nb).encode()


def vscode(source, data_name):
    nb = notebook(source)
    _strip_ids(nb, 4)
    nb["metadata"] = {"kernelspec": {"name": "python3", "display_name": ".venv"},
                      "vscode": {"interpreter": {"hash": "0" * 64}}, "language_info": {"name": "python"}}
    cells = _code_cells(nb)
    _set(cells[0], "%pip install numpy\n" + _text(cells[0]))
    for c in cells:
        c["source"] = [line.replace("\n", "\r\n") for line in c["source"]]
    if data_name:  # the data moved to the GPU, as on a laptop that has one
        nb["cells"].append(_cell(f"{data_name} = {data_name}.to('cuda')\n"))
    return "ipynb", json.dumps(nb).encode()


def jupytext(source):
    text = source.replace("# %%\n", "# %%\nfiles = !ls\n", 1)
    return "py", ("\ufeff" + text).replace("\n", "\r\n").encode("utf-8")


def mac_zip(source):
    _, raw = jupyterlab(source)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("homework/homework.ipynb", raw)
        zf.writestr("__MACOSX/homework/._homework.ipynb", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
        zf.writestr("homework/.DS_Store", b"\x00\x00\x00\x01Bud1")
    return "zip", buf.getvalue()


def styles(assignment):
    data = {"gradient_descent": "X", "linear_classifier": None}[assignment]
    return {"colab": colab, "colab_py": colab_py, "jupyterlab": jupyterlab, "classic": classic,
            "vscode": lambda s: vscode(s, data), "jupytext": jupytext, "mac_zip": mac_zip}


# -- labels, by differential testing outside the grader ---------------------------------------------

def definitions(source, name):
    """The module's imports, functions, classes and lambda bindings, executed (trusted: the
    corpus's own code); experiments and plots are left out."""
    import matplotlib
    matplotlib.use("Agg")
    tree = ast.parse(source)
    def literal(node):
        try:
            ast.literal_eval(node)
            return True
        except ValueError:
            return False

    keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
            or (isinstance(n, ast.Assign) and (isinstance(n.value, ast.Lambda) or literal(n.value)))]
    ns = {"__name__": f"__corpus_{name}__"}
    sys.path.insert(0, str(ROOT / "assignments" / "linear_classifier"))  # mnist_data, as students have it
    try:
        exec(compile(ast.Module(body=keep, type_ignores=[]), f"<{name}>", "exec"), ns)
    finally:
        sys.path.pop(0)
    return ns


def _gd_probes():
    import torch
    g = torch.Generator().manual_seed(7)
    X = torch.linspace(-3, 3, 23).view(-1, 1)
    Y = -1.3 * X + 0.4 + 0.2 * torch.randn(X.shape, generator=g)
    rng = np.random.default_rng(7)
    Xn = rng.normal(size=(17, 3))
    yn = Xn @ np.array([1.0, -2.0, 0.5]) + 0.3
    data, target = torch.randn(6, 2, generator=g), torch.randn(6, 1, generator=g)
    return {
        "model": lambda ns, ref: [ns["model"](X, torch.tensor([0.7]), torch.tensor([-0.2]))],
        "loss_func": lambda ns, ref: [ns["loss_func"](X * 0.5, Y)],
        "fit_GD": lambda ns, ref: [ns["fit_GD"](ref["model"], ref["loss_func"], X, Y, 0.02, 7)],
        "fit_BGD": lambda ns, ref: [ns["fit_BGD"](ref["model"], ref["loss_func"], X, Y, 0.02, 5, 4)],
        "fit_numpy": lambda ns, ref: list(ns["fit_numpy"](Xn, yn, 0.05, 9)),
        "train_perceptron": lambda ns, ref: [ns["train_perceptron"](data, target, "sgd", 4)[1]],
    }


def _linear_probes():
    rng = np.random.default_rng(11)
    Xb = np.concatenate([np.ones((9, 1)), rng.normal(size=(9, 2))], axis=1)
    Y = np.eye(3)[rng.integers(0, 3, size=9)]
    theta = rng.normal(size=(3, 3))
    Z = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])

    def with_args(fn, *args):  # what it returns, and its arguments as it left them
        args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        return [fn(*args), *args]

    y01 = rng.integers(0, 2, size=(9, 1)).astype(float)
    images, labels = rng.integers(0, 256, size=(30, 28, 28)).astype(np.uint8), rng.integers(0, 10, size=30)
    return {
        "add_bias_term": lambda ns, ref: [ns["add_bias_term"](Xb[:, 1:])],
        "one_hot": lambda ns, ref: [ns["one_hot"](np.array([2, 0, 1]), 4)],
        "sigmoid": lambda ns, ref: [ns["sigmoid"](Z)],
        "softmax": lambda ns, ref: [ns["softmax"](Z)],
        "binary_cross_entropy": lambda ns, ref: [ns["binary_cross_entropy"](y01, np.full((9, 1), 0.3))],
        "categorical_cross_entropy": lambda ns, ref: [ns["categorical_cross_entropy"](Y, np.full((9, 3), 1 / 3))],
        "predict_proba": lambda ns, ref: [ns["predict_proba"](Xb, theta)],
        "gradient": lambda ns, ref: [ns["gradient"](Xb, Y, theta)],
        "gd_step": lambda ns, ref: with_args(ns["gd_step"], Xb, Y, theta, 0.1),
        "sgd_epoch": lambda ns, ref: [ns["sgd_epoch"](Xb, Y, theta.copy(), 0.1, 2, 5)],
        "train": lambda ns, ref: list(ns["train"](Xb[:, 1:], Y, 0.1, 3, mode="stochastic", batch_size=2, seed=1)),
        "predict": lambda ns, ref: [ns["predict"](Xb[:, 1:], theta),
                                    ns["predict"](np.array([[0.0, 0.0], [1.0, 1.0], [2.0, -1.0]]),
                                                  np.array([[0.0], [1.0], [-1.0]]))],  # a score of exactly 0
        "accuracy": lambda ns, ref: [ns["accuracy"](np.array([1, 0, 2, 2]), np.array([[1], [0], [0], [2]]))],
        "image_features": lambda ns, ref: [ns["image_features"](images)],
        "train_image_classifier": lambda ns, ref: list(ns["train_image_classifier"](images, labels, 0.1, 1, 8)),
    }


PROBES = {"gradient_descent": _gd_probes, "linear_classifier": _linear_probes}


def _same(a, b):
    import torch
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, dtype=float)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


def label(assignment, source, name):
    """{graded function: True if it does what the reference does} for the probed functions."""
    import random

    import torch
    ref = definitions(code_variants()[assignment]["reference"], "reference")
    mine = definitions(source, name)
    out = {}
    for fn, probe in PROBES[assignment]().items():
        got = []
        for ns in (mine, ref):
            random.seed(0)
            np.random.seed(0)
            torch.manual_seed(0)
            try:
                got.append(probe(ns, ref))
            except Exception as e:  # noqa: BLE001 - a function that raises differs from one that does not
                got.append(e)
        ok = not any(isinstance(g, Exception) for g in got) and len(got[0]) == len(got[1]) \
            and all(_same(a, b) for a, b in zip(*got))
        out[fn] = ok
    return out


def write(out):
    """The corpus under ``out``: every (code, style) case, and labels.json {assignment: {case:
    {"code": code variant, "style": style, "correct": {function: bool}}}}."""
    out = Path(out)
    labels = {}
    for assignment, sources in code_variants().items():
        folder = out / assignment
        folder.mkdir(parents=True, exist_ok=True)
        labels[assignment] = {}
        for code, source in sources.items():
            correct = label(assignment, source, code)
            for style, make in styles(assignment).items():
                suffix, raw = make(copy.copy(source))
                case = f"{style}__{code}"
                (folder / f"{case}.{suffix}").write_bytes(raw)
                labels[assignment][case] = {"code": code, "style": style, "correct": correct}
    (out / "labels.json").write_text(json.dumps(labels, indent=1))
    return labels


if __name__ == "__main__":
    written = write(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    for assignment, cases in written.items():
        print(f"{assignment}: {len(cases)} cases")
