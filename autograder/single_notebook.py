"""dist/<name>/<name>.ipynb: the handout as one notebook that carries its own checks.

Students open one ``.ipynb`` in Colab, JupyterHub or VS Code, from a course link, Drive or an
upload, with nothing beside it. So the folder handout's ``ag_public/``, ``tests/`` and support
files (``mnist_data.py``) travel inside the notebook: a deterministic zip, base64 in the first
cell (``file_templates/handout/setup_cell.py.j2``), with its SHA-256. That cell unpacks them into
a private folder under ``~/.cache/autograder/`` (once per digest; running it again is harmless),
puts the folder on ``sys.path`` and installs, only where missing, the pinned otter-grader and the
packages the assignment's kernel needs (``Assignment.kernel_packages``). The student's cells are
the folder handout's, unchanged; the submit cell, as in the folder handout,
works in Colab too (``handout_runtime/submit.py``). What is packed is what the folder handout holds: public checks
and their recorded answers only, never a hidden check or reference code.
"""
import base64
import hashlib
import importlib.metadata
import io
import zipfile
from pathlib import Path

import nbformat

from . import templating

SETUP_TAG = "autograder-setup"  # the setup cell's tag (its metadata also folds it in Colab and Jupyter)
LINE = 100  # characters of base64 per line of the setup cell
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # zip entries' time: the same handout packs to the same bytes


def packed(student: Path) -> bytes:
    """The folder handout without its notebook, as a zip whose bytes depend on the files only."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for path in sorted(p for p in student.rglob("*") if p.is_file()):
            rel = path.relative_to(student).as_posix()
            if rel.endswith(".ipynb") or "__pycache__" in rel:
                continue
            info = zipfile.ZipInfo(rel, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, path.read_bytes())
    return buf.getvalue()


def requirements(otter_version: str, kernel_packages: tuple[str, ...]) -> list[tuple[str, str]]:
    """(module, pinned requirement) of what the first cell installs where missing: otter-grader at
    the toolkit's version, and each kernel package at the version the grader has."""
    found = [("otter", f"otter-grader=={otter_version}")]
    for dist in kernel_packages:
        found.append((dist.replace("-", "_"), f"{dist}=={importlib.metadata.version(dist)}"))
    return found


def setup_cell(name: str, payload: bytes, requires: list[tuple[str, str]]) -> nbformat.NotebookNode:
    text = base64.b64encode(payload).decode("ascii")
    source = templating.render("handout/setup_cell.py.j2", name=name, digest=hashlib.sha256(payload).hexdigest(),
                               payload=[text[i:i + LINE] for i in range(0, len(text), LINE)],
                               requires=requires, installs=[r for _, r in requires]).rstrip("\n")
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata.update({"cellView": "form", "jupyter": {"source_hidden": True}, "tags": [SETUP_TAG]})
    return cell


def single_notebook(folder_nb: nbformat.NotebookNode, name: str, student: Path,
                    requires: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """The folder handout's notebook with its first code cell (otter's init) replaced by the
    setup cell; every other cell as it is (the submit cell, ``handout_runtime/submit.py``,
    already works in Colab too)."""
    nb = nbformat.from_dict(folder_nb)  # a copy
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    setup = setup_cell(name, packed(student), requires)
    setup.id = nb.cells[first].id
    nb.cells[first] = setup
    return nb


def unpacked(nb: nbformat.NotebookNode) -> dict[str, bytes]:
    """The files a single notebook's setup cell carries (for tests and reviews)."""
    cell = next(c for c in nb.cells if SETUP_TAG in c.metadata.get("tags", []))
    lines = [ln.strip() for ln in cell.source.split("_AG_PACKED = (", 1)[1].split(")", 1)[0].splitlines()]
    raw = base64.b64decode("".join(ln.strip("'\"") for ln in lines if ln))
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return {n: z.read(n) for n in z.namelist()}
