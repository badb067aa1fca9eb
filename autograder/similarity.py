"""Groups of submissions whose code is the same once names, whitespace, comments and
docstrings are normalised: a hint for a human to look at, never a verdict. The signature is
taken when a submission is graded (``grade``) and kept in its results.json."""
import ast
import collections
import hashlib


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


def code_signature(path):
    """A digest of the submission's code with names, whitespace, comments and docstrings
    normalised; empty when it cannot be parsed (parsing never runs any of it)."""
    from .runtime import loader
    try:
        trees = []
        for src in loader.read_cells(path):
            tree, err = loader.parse_cell(loader.strip_magics(src))
            if tree is not None:
                trees.append(tree)
        module = ast.Module(body=[s for t in trees for s in t.body], type_ignores=[])
        _Normalise().visit(module)
        if not module.body:
            return ""
        return hashlib.sha256(ast.dump(module).encode()).hexdigest()[:16]
    except Exception:  # noqa: BLE001 - a hint only: never fail grading over it
        return ""


def similar_groups(results, stub_signature=""):
    """Groups (of two or more) of submissions with the same code signature, largest first;
    copies of the unchanged stub are left out."""
    groups = collections.defaultdict(list)
    for r in results:
        if r.signature and r.signature != stub_signature:
            groups[r.signature].append(r.submission)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))
