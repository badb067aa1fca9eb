"""Generate the student stub notebook from the reference solution (the single source of truth).

The solution is a percent-format Python file (``# %%`` cells, read with jupytext). Steps:
  1. read the solution into notebook cells;
  2. in code cells, replace each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` region by
     ``raise NotImplementedError("Task X: implement <function>")`` (task from the assignment);
  3. in markdown cells, replace ``<!-- BEGIN SOLUTION -->`` regions by an answer placeholder;
  4. write a clean nbformat v4 notebook with stable cell ids, so regeneration is byte-stable.
"""
import re
from pathlib import Path

import jupytext
import nbformat

CODE_BEGIN, CODE_END = "# BEGIN SOLUTION", "# END SOLUTION"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
ANSWER_PLACEHOLDER = "*Type your answer here, replacing this line.*"
DEF_RE = re.compile(r"^(\s*)def\s+(\w+)\s*\(")
CLASS_RE = re.compile(r"^(\s*)class\s+(\w+)\b")


class BuildError(ValueError):
    pass


def _indent(line):
    return len(line) - len(line.lstrip())


def _enclosing_function(lines, index):
    """Qualified name ("fit_GD", "MLP.forward") of the function holding line ``index``, or None
    when the line is at module or class level."""
    indent = _indent(lines[index])
    for j in range(index - 1, -1, -1):
        if not lines[j].strip():
            continue
        if CLASS_RE.match(lines[j]) and _indent(lines[j]) < indent:
            return None  # class level: no function encloses the line
        m = DEF_RE.match(lines[j])
        if m and len(m.group(1)) < indent:
            def_indent = len(m.group(1))
            for k in range(j - 1, -1, -1):
                c = CLASS_RE.match(lines[k])
                if c and len(c.group(1)) < def_indent:
                    return f"{c.group(2)}.{m.group(2)}"
                if lines[k].strip() and _indent(lines[k]) < def_indent and not c:
                    break
            return m.group(2)
    return None


def strip_code(source, tasks_by_function):
    """Replace solution regions in one code cell with a NotImplementedError naming the task."""
    lines = source.split("\n")
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.strip() != CODE_BEGIN:
            if line.strip() == CODE_END:
                raise BuildError(f"{CODE_END} without {CODE_BEGIN}: {source[:60]!r}")
            out.append(line)
            i += 1
            continue
        fn = _enclosing_function(lines, i)
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == CODE_END), None)
        if end is None:
            raise BuildError(f"{CODE_BEGIN} in {fn or 'top-level code'} is never closed")
        if fn is None:
            pass  # a helper of the solution's own at module or class level: left out of the stub
        elif fn not in tasks_by_function:
            raise BuildError(f"solution region in {fn} has no task in TASKS")
        else:
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f'{indent}raise NotImplementedError("Task {tasks_by_function[fn]}: implement {fn}")')
        i = end + 1
    return "\n".join(out)


def strip_markdown(source):
    pattern = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), re.S)
    if source.count(MD_BEGIN) != source.count(MD_END):
        raise BuildError("unbalanced answer markers in a markdown cell")
    return pattern.sub(ANSWER_PLACEHOLDER, source)


def solution_notebook(path):
    """The solution file as a notebook, with metadata reduced to what Jupyter needs."""
    nb = jupytext.read(path, fmt="py:percent")
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    for i, cell in enumerate(nb.cells):
        cell.metadata = {}
        cell.id = f"cell-{i:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def stub_notebook(assignment):
    nb = solution_notebook(assignment.solution)
    by_function = {fn: task for task, fn in assignment.tasks.items()}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = strip_code(cell.source, by_function)
        elif cell.cell_type == "markdown":
            cell.source = strip_markdown(cell.source)
    nbformat.validate(nb)
    return nb


def render(nb):
    return nbformat.writes(nb, version=4) + "\n"


def write_stub(assignment, path=None):
    """The stub notebook, and beside it the support modules the notebook imports."""
    path = Path(path or assignment.stub)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(stub_notebook(assignment)), encoding="utf-8")
    for name, src in (assignment.support_files or {}).items():
        (path.parent / name).write_text(Path(src).read_text(encoding="utf-8"), encoding="utf-8")
    return path


def write_solution_notebook(assignment, path):
    """The reference as a notebook (for tests and example submissions)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(solution_notebook(assignment.solution)), encoding="utf-8")
    return path
