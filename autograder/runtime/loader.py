"""Turn a submission (.py or .ipynb) into a list of code cells, optionally definitions only.

Used by the worker (to load student code) and by the grader (to load the reference the same
way). Notebooks are read as JSON, never executed here; IPython's input transformers turn
magics and shell escapes into the calls IPython would make (the worker answers them).
"""
import ast
import functools
import json

# Cell magics whose body is still Python worth running.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}


class SubmissionError(ValueError):
    """The submission file cannot be read as code at all."""


def read_cells(path):
    """Code cells of a .py file (one cell) or a notebook, as strings."""
    return [src for _, src in read_numbered_cells(path)]


def read_numbered_cells(path):
    """(number, source) of each code cell: a notebook's cells are numbered as the student
    counts them in Jupyter, every cell from 1 at the top (markdown cells included), so
    "cell 5, line 3" is found by looking; a .py file is one cell, number 1. nbformat 3
    notebooks (cells in worksheets, code in "input") are read too; a byte-order mark is
    accepted, as Python and Jupyter accept it."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise SubmissionError(f"cannot read {path}: {e.strerror}") from None
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    if path.endswith(".ipynb"):
        try:
            nb = json.loads(raw.decode("utf-8", errors="replace"))
        except RecursionError:
            raise SubmissionError("notebook is nested too deeply to read") from None
        except ValueError as e:
            raise SubmissionError(f"notebook is not valid JSON ({e})") from None
        if not isinstance(nb, dict):
            raise SubmissionError("notebook has no 'cells' list")
        cells = nb.get("cells", [])
        if nb.get("nbformat") == 3 and "cells" not in nb:
            sheets = nb.get("worksheets") or [{}]
            cells = sheets[0].get("cells", []) if isinstance(sheets, list) and isinstance(sheets[0], dict) else None
        if not isinstance(cells, list):
            raise SubmissionError("notebook has no 'cells' list")
        found = []
        for number, cell in enumerate(cells, 1):
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                src = cell.get("source", cell.get("input", ""))
                found.append((number, "".join(map(str, src)) if isinstance(src, list) else str(src)))
        return found
    if b"\x00" in raw:
        raise SubmissionError("file is binary, not Python source")
    return [(1, raw.decode("utf-8", errors="replace"))]


@functools.cache
def _transformer():
    from IPython.core.inputtransformer2 import TransformerManager
    return TransformerManager()


@functools.lru_cache(maxsize=1024)  # a worker reads each cell three times: load, signature, tracebacks
def python_source(src):
    """A cell as the Python IPython runs: magics and shell escapes (``!ls``, ``files = !ls``,
    ``%matplotlib inline``, a ``!pip install`` continued with a backslash) become calls of
    ``get_ipython()``, by IPython's own input transformers, so that only what IPython takes for
    one is one (``!=`` at the start of a continued line stays a comparison). A cell magic's body
    is kept when it is Python (``%%time``), else the cell is dropped. A carriage return ends a
    line, as in Jupyter."""
    src = src.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    first, _, rest = src.partition("\n")
    if first.strip().startswith("%%"):
        magic = first.strip()[2:].split()
        if not magic or magic[0] not in PYTHON_CELL_MAGICS:
            return ""
        src = "\n" + rest  # the magic's line stays, empty, so line numbers are the student's
    lines = src.split("\n")
    blank = next((i for i, text in enumerate(lines) if text.strip()), len(lines))
    try:  # IPython drops leading blank lines: they are put back, so line numbers stay the student's
        return "\n" * blank + _transformer().transform_cell(src)
    except Exception:  # noqa: BLE001 - IPython could not read it: the parser will say why
        return src


def _loaded_names(nodes):
    """Names read anywhere inside the given statements."""
    names = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                names.add(sub.id)
    return names


def _is_literal(node):
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def _targets(stmt):
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    names = set()
    for t in targets:
        for sub in ast.walk(t):
            if isinstance(sub, ast.Name):
                names.add(sub.id)
    return names


DEF_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
IMPORT_NODES = (ast.Import, ast.ImportFrom)


def _defines(stmt, keep):
    """An assignment that is a definition: of a lambda (``accuracy = lambda y, p: ...``), or of
    a name in ``keep`` (a graded function bound by assignment: ``f = functools.partial(g, 2)``)."""
    return (isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None
            and (isinstance(stmt.value, ast.Lambda) or bool(_targets(stmt) & keep)))


def _keep(stmt, needed, keep):
    if isinstance(stmt, DEF_NODES + IMPORT_NODES) or _defines(stmt, keep):
        return True
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
        return bool(_targets(stmt) & needed) or _is_literal(stmt.value)
    if isinstance(stmt, ast.Try):  # try: import x / except ImportError: ...
        return all(isinstance(s, IMPORT_NODES) for s in stmt.body)
    return False


def parse_cell(src):
    """An ast.Module for the cell, or the error that stops it from parsing."""
    try:
        return ast.parse(src), None
    except (SyntaxError, ValueError) as e:
        return None, f"{type(e).__name__}: {e}"
    except (RecursionError, MemoryError):
        return None, "cell is too deeply nested to parse"


def definitions_only(trees, keep=()):
    """Keep imports, functions, classes, lambdas, assignments to the names in ``keep`` (the
    graded functions: one may be bound by assignment), literal constants and the top-level
    assignments that those read (and, transitively, the assignments those read). Training
    loops, plots and prints are dropped, so a notebook that trains for minutes loads in
    milliseconds. Line numbers are preserved."""
    keep = set(keep)
    stmts = [s for tree in trees if tree for s in tree.body]
    needed = _loaded_names([s for s in stmts if isinstance(s, DEF_NODES) or _defines(s, keep)])
    assigns = [s for s in stmts if isinstance(s, (ast.Assign, ast.AnnAssign)) and s.value is not None]
    while True:  # the values a kept assignment reads are needed too
        grown = needed | _loaded_names([s for s in assigns if _targets(s) & needed])
        if grown == needed:
            break
        needed = grown
    out = []
    for tree in trees:
        if tree is not None:
            tree = ast.Module(body=[s for s in tree.body if _keep(s, needed, keep)], type_ignores=[])
        out.append(tree)
    return out


def load_program(path, mode="all", keep=(), numbered=None):
    """The submission as a list of (cell number, ast.Module or None, parse error or None).

    mode='all' keeps every statement; mode='definitions' drops top-level work (see above;
    ``keep``: the graded names, kept however they are bound). ``numbered``: the file's
    ``read_numbered_cells``, when the caller read them already.
    Raises SubmissionError when the file cannot be read as code at all.
    """
    if mode not in ("all", "definitions"):
        raise ValueError(f"unknown load mode {mode!r}")
    numbered = read_numbered_cells(path) if numbered is None else numbered
    parsed = [parse_cell(python_source(c)) for _, c in numbered]
    trees = [t for t, _ in parsed]
    if mode == "definitions":
        trees = definitions_only(trees, keep)
    return [(number, tree, err) for (number, _), tree, (_, err) in zip(numbered, trees, parsed)]
