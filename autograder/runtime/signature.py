"""A submission's code signature: a digest of its code with names, whitespace, comments and
docstrings normalised, so that two copies of one solution with renamed variables match.

Computed in the worker, from the files alone, before any student code runs (the worker then
sends it first, where no student code can change it): parsing hostile text costs memory and
time, and that is the worker's, within its limits, never the grader's. Code beyond
``MAX_CODE_CHARS`` gets no signature.
"""
import ast
import hashlib

from . import loader

MAX_CODE_CHARS = 1 << 20  # a course notebook's code is tens of kB; parsing costs ~600 bytes a character


class _Normalise(ast.NodeTransformer):
    """Rename every identifier the code defines (functions, classes, arguments, variables) to
    its order of first appearance, and drop docstrings; library names stay as they are."""

    def __init__(self):
        self.names = {}

    def _name(self, name):
        return self.names.setdefault(name, f"v{len(self.names)}")

    def _strip_docstring(self, node):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]

    def visit_FunctionDef(self, node):
        node.name = self._name(node.name)
        self._strip_docstring(node)
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        node.name = self._name(node.name)
        self._strip_docstring(node)
        return self.generic_visit(node)

    def visit_arg(self, node):
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store) or node.id in self.names:
            node.id = self._name(node.id)
        return node


def of_sources(sources: list[str]) -> str:
    """The signature of these code cells; "" when there is no code, too much, or it cannot be
    parsed (parsing never runs any of it)."""
    if sum(len(s) for s in sources) > MAX_CODE_CHARS:
        return ""
    try:
        trees = []
        for src in sources:
            tree, _ = loader.parse_cell(loader.python_source(src))
            if tree is not None:
                trees.append(tree)
        module = ast.Module(body=[s for t in trees for s in t.body], type_ignores=[])
        _Normalise().visit(module)
        if not module.body:
            return ""
        return hashlib.sha256(ast.dump(module).encode()).hexdigest()[:16]
    except (RecursionError, MemoryError, ValueError, TypeError):
        return ""


def of_file(path) -> str:
    """The signature of a notebook or script (see ``of_sources``)."""
    try:
        return of_sources(loader.read_cells(path))
    except loader.SubmissionError:
        return ""
