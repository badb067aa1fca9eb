"""``autograder audit NAME``: how strong an assignment's checks are, measured by mutation.

Steps:
  1. ``regions``: the reference's solution regions (``# BEGIN SOLUTION`` ... ``# END SOLUTION``),
     each with the graded function it is in;
  2. ``mutants``: one-line bugs made in those regions by the classic mutation operators
     (``OPERATORS``), each applied at one place of the source; the rest of the file, its
     comments and cells included, is left as it is, and a mutant that does not compile or
     repeats another's source is dropped. Tasks declared ``graded_from_files`` are left out
     (their code never runs when grading: a mutant would hand in the reference's files);
  3. ``grade_mutants``: every mutant graded like a submission, by the batch engine;
  4. ``summarise``: per task, mutants tried, killed (lost at least one point), survived, and
     those the instructor reviewed as equivalent (same behaviour: no check can tell), which
     are listed in ``equivalent_mutants.toml`` next to the checks.

A survivor is a bug students can make and keep full marks: strengthen a check, or, when the
mutant behaves exactly like the reference, add it to the reviewed list with the reason.
"""
import ast
import copy
import json
import shutil
import sys
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import assignments, batch, build, grade, sandbox
from .isolation import Mode, resolve
from .assignments import Assignment

EQUIVALENT_FILE = "equivalent_mutants.toml"
# Mutants run with tighter limits than students: an infinite loop costs seconds, not minutes.
AUDIT_LIMITS = sandbox.Limits(call_timeout=10.0, load_timeout=30.0)


@dataclass
class Mutant:
    id: str
    operator: str
    function: str
    task: str
    line: int  # 1-based, in the solution file
    before: str  # the changed line(s), stripped
    after: str
    source: str = field(repr=False, default="")
    score: float | None = None
    max_score: float | None = None
    failed: list = field(default_factory=list)  # checks that lost points: what killed it
    status: str = ""
    equivalent: str = ""  # the reviewed reason, when it is listed as equivalent

    @property
    def killed(self):
        return self.score is not None and self.score < self.max_score

    def diff(self):
        return f"line {self.line}: - {self.before}   + {self.after}"


# -- step 1: where the solution is ---------------------------------------------------------------

def regions(a: Assignment) -> list[tuple[int, int, str]]:
    """(first line, last line, function) of each solution region, 1-based and inclusive of
    the code between the markers."""
    lines = a.solution.read_text(encoding="utf-8").split("\n")
    out, start = [], None
    for i, line in enumerate(lines):
        if line.strip() == build.CODE_BEGIN:
            start = i
        elif line.strip() == build.CODE_END and start is not None:
            fn = build.enclosing_function(lines, start) or _helper_in(lines, start + 1, i)
            out.append((start + 2, i, fn))
            start = None
    return out


def _helper_in(lines: list[str], first: int, end: int) -> str:
    """A region at module or class level holds helpers of the solution's own: named after the
    first function it defines ("MLP._forward"); no task grades it directly."""
    for j in range(first, end):
        if build.DEF_RE.match(lines[j]):
            return build.enclosing_function(lines, j + 1) or "(module level)"
    return "(module level)"


# -- step 2: the mutation operators -------------------------------------------------------------
# Each operator takes a node and yields (name, replacement node) for every mutant it makes there.

BINOP_SWAPS = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div, ast.Add], ast.Div: [ast.Mult],
               ast.FloorDiv: [ast.Div], ast.Pow: [ast.Mult], ast.MatMult: [ast.Mult], ast.Mod: [ast.FloorDiv]}
CMP_SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
             ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
NAME_SWAPS = {"mean": "sum", "sum": "mean", "max": "min", "min": "max", "maximum": "minimum",
              "minimum": "maximum", "argmax": "argmin", "argmin": "argmax", "exp": "log", "log": "exp",
              "zeros": "ones", "ones": "zeros", "zeros_like": "ones_like", "ones_like": "zeros_like"}


def op_arithmetic(node):
    if isinstance(node, ast.BinOp):
        for new in BINOP_SWAPS.get(type(node.op), []):
            yield "arithmetic", ast.BinOp(node.left, new(), node.right)
        if isinstance(node.op, ast.MatMult):  # a transpose added
            yield "transpose", ast.BinOp(node.left, node.op, ast.Attribute(node.right, "T", ast.Load()))
    if isinstance(node, ast.AugAssign):
        for new in BINOP_SWAPS.get(type(node.op), [])[:1]:
            yield "arithmetic", ast.AugAssign(node.target, new(), node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "sign", node.operand


def op_comparison(node):
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in CMP_SWAPS:
        yield "comparison", ast.Compare(node.left, [CMP_SWAPS[type(node.ops[0])]()], node.comparators)
    if isinstance(node, ast.BoolOp):
        yield "boolean", ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(), node.values)


def op_constant(node):
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
        v = node.value
        if isinstance(v, bool):
            yield "constant", ast.Constant(not v)
        elif isinstance(v, int):
            yield "constant", ast.Constant(v + 1)
            if v != 0:
                yield "constant", ast.Constant(v - 1)
        else:
            yield "constant", ast.Constant(v * 2 if v else 1.0)


def op_call(node):
    """mean/sum and friends swapped, two arguments swapped, axis and keepdims changed, an
    off-by-one range."""
    if not isinstance(node, ast.Call):
        return
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    if name in NAME_SWAPS:
        new = copy.copy(node)
        new.func = (ast.Attribute(f.value, NAME_SWAPS[name], ast.Load()) if isinstance(f, ast.Attribute)
                    else ast.Name(NAME_SWAPS[name], ast.Load()))
        yield "function", new
    args = [a for a in node.args if not isinstance(a, ast.Starred)]
    if len(args) >= 2 and ast.dump(args[0]) != ast.dump(args[1]) and len(args) == len(node.args):
        new = copy.copy(node)
        new.args = [node.args[1], node.args[0], *node.args[2:]]
        yield "argument order", new
    for i, kw in enumerate(node.keywords):
        if kw.arg == "axis" and isinstance(kw.value, (ast.Constant, ast.UnaryOp)):
            for other in (0, 1, -1, None):
                if ast.unparse(kw.value) != repr(other):
                    new = copy.copy(node)
                    new.keywords = [*node.keywords[:i], ast.keyword("axis", ast.Constant(other)),
                                    *node.keywords[i + 1:]]
                    yield "axis", new
        if kw.arg == "keepdims":
            new = copy.copy(node)
            new.keywords = node.keywords[:i] + node.keywords[i + 1:]
            yield "keepdims", new
    if name == "range" and node.args:
        k = 0 if len(node.args) == 1 else 1
        new = copy.copy(node)
        new.args = list(node.args)
        new.args[k] = ast.BinOp(node.args[k], ast.Sub(), ast.Constant(1))
        yield "off by one", new
        if len(node.args) >= 2:
            new = copy.copy(node)
            new.args = [ast.BinOp(node.args[0], ast.Add(), ast.Constant(1)), *node.args[1:]]
            yield "off by one", new


def op_transpose(node):
    if isinstance(node, ast.Attribute) and node.attr == "T":
        yield "transpose", node.value


def op_slice(node):
    if isinstance(node, ast.Slice) and node.upper is not None:
        yield "off by one", ast.Slice(node.lower, ast.BinOp(node.upper, ast.Sub(), ast.Constant(1)), node.step)


def op_unstable(node):
    """The shift that keeps exp from overflowing dropped: ``Z - Z.max(...)`` becomes ``Z``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and isinstance(node.right, ast.Call):
        f = node.right.func
        if (f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)) in ("max", "amax"):
            yield "unstable", node.left


OPERATORS = (op_arithmetic, op_comparison, op_constant, op_call, op_transpose, op_slice, op_unstable)
# Bugs that only some inputs can show, each reported on its own line: a survivor means no check
# looks at the arguments after a call, feeds a batch missing a class, or scores large enough.
GAP_CLASSES = {"in place": "arguments changed (or not) in place", "classes from labels":
               "class count taken from the labels present", "unstable": "exp without the max shift"}
CLASS_COUNT = ("num_classes", "n_classes", "classes", "K")


def _belongs_to_caller(target, params) -> bool:
    """Whether an update of ``target`` in place is seen by the caller: an argument, an element
    of one, or an object's own state (``self.params[k]``)."""
    while isinstance(target, ast.Subscript):
        target = target.value
    if isinstance(target, ast.Attribute):
        return isinstance(target.value, ast.Name) and target.value.id == "self"
    return isinstance(target, ast.Name) and target.id in params


def contextual(node, params: list[str]):
    """Mutants that need the enclosing function's parameters, as (name, replacement text):
    an argument changed in place (``theta = theta - e`` or ``return theta - e`` becomes
    ``theta -= e``) or, the reverse, an update in place that makes a new array instead
    (``W[k] -= e`` becomes ``W[k] = W[k] - (e)``), and a class count taken from the labels
    present (``num_classes`` becomes ``int(np.max(y)) + 1``): bugs that only a look at the
    arguments after the call, or a batch missing a class, can show."""
    ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
    if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in params and isinstance(node.value, ast.BinOp)
            and isinstance(node.value.left, ast.Name) and node.value.left.id == node.targets[0].id
            and type(node.value.op) in ops):
        yield "in place", f"{node.targets[0].id} {ops[type(node.value.op)]}= {ast.unparse(node.value.right)}"
    if (isinstance(node, ast.Return) and isinstance(node.value, ast.BinOp) and isinstance(node.value.left, ast.Name)
            and node.value.left.id in params and type(node.value.op) in ops):
        name = node.value.left.id
        yield "in place", f"{name} {ops[type(node.value.op)]}= {ast.unparse(node.value.right)}; return {name}"
    if isinstance(node, ast.AugAssign) and type(node.op) in ops and _belongs_to_caller(node.target, params):
        target = ast.unparse(node.target)  # the reverse: an update in place made a new array
        yield "in place", f"{target} = {target} {ops[type(node.op)]} ({ast.unparse(node.value)})"
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in CLASS_COUNT \
            and node.id in params and params[0] != node.id:
        yield "classes from labels", f"(int(np.max({params[0]})) + 1)"

DROPPABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)


def _in_region(node, spans):
    start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    return next((fn for lo, hi, fn in spans if start is not None and lo <= start and end <= hi), None)


def _is_docstring(node):
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _replace(lines, node, text):
    """The source with ``node``'s span replaced by ``text``."""
    first, last = node.lineno - 1, node.end_lineno - 1
    head, tail = lines[first][:node.col_offset], lines[last][node.end_col_offset:]
    return lines[:first] + [head + text + tail] + lines[last + 1:], first


def mutants(a: Assignment) -> list[Mutant]:
    """Every mutant of the reference's solution regions, in source order, without repeats."""
    source = a.solution.read_text(encoding="utf-8")
    lines = source.split("\n")
    tree = ast.parse(source)
    tasks = {fn: task for task, fn in a.tasks.items()}
    spans = [(lo, hi, fn) for lo, hi, fn in regions(a) if tasks.get(fn) not in a.graded_from_files]
    out: list = []
    seen = {source}

    def add(op, node, fn, new_lines, at):
        text = "\n".join(new_lines)
        if text in seen:
            return
        try:
            ast.parse(text)
        except SyntaxError:
            return
        seen.add(text)
        before = " ".join(s.strip() for s in lines[node.lineno - 1:node.end_lineno])
        after = new_lines[at].strip()
        out.append(Mutant(f"m{len(out) + 1:04d}", op, fn, tasks.get(fn, ""), node.lineno, before, after, text))

    functions = [(f.lineno, f.end_lineno, [a.arg for a in f.args.args if a.arg != "self"])
                 for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))]

    def params_at(node: Any) -> list:
        inner = [f for f in functions if f[0] <= node.lineno and node.end_lineno <= f[1]]
        return max(inner, key=lambda f: f[0])[2] if inner else []

    node: Any
    for node in ast.walk(tree):
        fn = _in_region(node, spans)
        if fn is None:
            continue
        if node.lineno == node.end_lineno:
            for op, text in contextual(node, params_at(node)):
                new_lines, at = _replace(lines, node, text)
                add(op, node, fn, new_lines, at)
        if isinstance(node, ast.stmt) and isinstance(node, DROPPABLE) and not _is_docstring(node):
            new_lines, at = _replace(lines, node, "pass")
            add("statement dropped", node, fn, new_lines, at)
        for operator in OPERATORS:
            for op, new in operator(node):
                if node.lineno != node.end_lineno:
                    continue  # a change inside a multi-line expression: rewritten on one line
                ast.copy_location(new, node)
                new_lines, at = _replace(lines, node, ast.unparse(new))
                add(op, node, fn, new_lines, at)
    return sorted(out, key=lambda m: (m.line, m.id))


# -- step 3: grading ------------------------------------------------------------------------------

def _write(a: Assignment, m: Mutant, where: Path, files: Path | None) -> Path:
    if not a.submission_files:
        path = where / f"{m.id}.py"
        path.write_text(m.source, encoding="utf-8")
        return path
    folder = where / m.id  # with the reference's handed-in files: the code is what is audited
    assert files is not None, "an assignment with handed-in files is audited with the reference's"
    folder.mkdir()
    (folder / f"{a.name}.py").write_text(m.source, encoding="utf-8")
    for name in a.submission_files:
        shutil.copy(files / name, folder / name)
    return folder


def grade_mutants(a: Assignment, found: list[Mutant], jobs: int | None = None, isolation: Mode | None = None,
                  progress: bool = True, limits: sandbox.Limits | None = None) -> None:
    """Grade every mutant with the batch engine; fills in score, failed checks and status."""
    from . import verify
    files = verify.reference_run(a, progress) if a.submission_files else None
    with tempfile.TemporaryDirectory(prefix="ag-audit-") as tmp:
        paths = [_write(a, m, Path(tmp), files) for m in found]
        with grade.Grader(a, limits or AUDIT_LIMITS, isolation=resolve(isolation).mode) as grader:
            results = batch.grade_paths(grader, paths, progress=progress, jobs=jobs)
    for m, r in zip(found, results):
        m.score, m.max_score, m.status = r.score, r.max_score, r.status
        m.failed = [c.name for c in r.checks if c.score < c.points]


# -- step 4: the verdict ----------------------------------------------------------------------------

def reviewed(a: Assignment) -> dict:
    """{(function, before, after): reason} from the reviewed list of equivalent mutants."""
    path = a.folder / EQUIVALENT_FILE
    if not path.is_file():
        return {}
    with open(path, "rb") as f:
        data = tomllib.load(f)
    out = {}
    for i, item in enumerate(data.get("mutant", [])):
        missing = [k for k in ("function", "before", "after", "reason") if not str(item.get(k, "")).strip()]
        if missing:
            raise assignments.DeclarationError(f"{path}: mutant #{i + 1} needs {', '.join(missing)}")
        out[(item["function"], item["before"].strip(), item["after"].strip())] = item["reason"].strip()
    return out


@dataclass
class Tally:
    """Mutants of one function (a task's, or a helper's) or of one gap class."""
    tried: int = 0
    killed: int = 0
    equivalent: int = 0  # survived, and reviewed as equivalent

    @property
    def survived(self) -> int:
        return self.tried - self.killed - self.equivalent


@dataclass
class TaskTally(Tally):
    function: str = ""


@dataclass
class AuditReport:
    """What ``audit`` found: the counts, per task and per gap class, and every mutant."""
    assignment: str
    seconds: float
    tried: int
    killed: int
    equivalent: int
    tasks: dict[str, TaskTally]  # task id (or "- helper") -> its mutants
    gap_classes: dict[str, Tally]  # operator of a known gap class -> its mutants
    not_audited: dict[str, str]  # task id -> function, graded from handed-in files
    submission_files: list[str]
    kills_per_check: dict[str, int]  # check name -> mutants it killed
    mutants: list[Mutant]
    stale_equivalents: list[tuple[str, str, str]]  # reviewed as equivalent, no longer made

    @property
    def survived(self) -> int:
        return self.tried - self.killed - self.equivalent

    @property
    def score(self) -> float:
        """Killed among the mutants not reviewed as equivalent."""
        return round(self.killed / max(1, self.tried - self.equivalent), 4)

    @property
    def survivors(self) -> list[Mutant]:
        return [m for m in self.mutants if not m.killed and not m.equivalent]

    def plain(self) -> dict:
        """The report as JSON-able data (``write_report``): mutants without their source."""
        return {"assignment": self.assignment, "seconds": self.seconds, "tried": self.tried, "killed": self.killed,
                "equivalent": self.equivalent, "survived": self.survived, "score": self.score,
                "tasks": {t: {**asdict(v), "survived": v.survived} for t, v in self.tasks.items()},
                "gap_classes": {op: asdict(v) for op, v in self.gap_classes.items()},
                "not_audited": self.not_audited, "submission_files": self.submission_files,
                "kills_per_check": self.kills_per_check, "stale_equivalents": self.stale_equivalents,
                "mutants": [{k: v for k, v in asdict(m).items() if k != "source"} | {"killed": m.killed}
                            for m in self.mutants]}


def summarise(a: Assignment, found: list[Mutant], seconds: float) -> AuditReport:
    equivalent = reviewed(a)
    for m in found:
        m.equivalent = equivalent.get((m.function, m.before, m.after), "")
    tasks: dict[str, TaskTally] = {}
    helpers = sorted({m.function for m in found} - set(a.tasks.values()))  # graded through the tasks using them
    for task, fn in [*a.tasks.items(), *((f"- {fn}", fn) for fn in helpers)]:
        mine = [m for m in found if m.function == fn]
        if not mine:
            continue
        tasks[task] = TaskTally(len(mine), sum(m.killed for m in mine),
                                sum(1 for m in mine if not m.killed and m.equivalent), function=fn)
    tried = len(found)
    killed = sum(m.killed for m in found)
    eq = sum(1 for m in found if not m.killed and m.equivalent)
    kills = {c.name: sum(c.name in m.failed for m in found) for c in a.checks}
    stale = [k for k in equivalent if not any((m.function, m.before, m.after) == k for m in found)]
    classes: dict[str, Tally] = {}
    for m in found:
        if m.operator in GAP_CLASSES:
            c = classes.setdefault(m.operator, Tally())
            c.tried += 1
            c.killed += m.killed
            c.equivalent += bool(not m.killed and m.equivalent)
    return AuditReport(a.name, round(seconds, 1), tried, killed, eq, tasks, classes,
                       {t: a.tasks[t] for t in a.graded_from_files}, list(a.submission_files), kills, found, stale)


def audit(name: str, jobs: int | None = None, isolation: Mode | None = None, progress: bool = True,
          limit: int | None = None) -> AuditReport:
    a = assignments.get(name)
    start = time.monotonic()
    found = mutants(a)[:limit] if limit else mutants(a)
    if progress:
        print(f"{a.name}: grading {len(found)} mutants of solution regions in "
              f"{a.solution.relative_to(assignments.REPO)}", file=sys.stderr)
    grade_mutants(a, found, jobs, isolation, progress)
    return summarise(a, found, time.monotonic() - start)


def print_report(r: AuditReport, file=None) -> None:
    file = file or sys.stdout
    print(f"\n{r.assignment}: {r.killed} of {r.tried - r.equivalent} mutants killed "
          f"({100 * r.score:.1f}%), {r.survived} survived, {r.equivalent} reviewed as equivalent, "
          f"in {r.seconds:.0f} s", file=file)
    print(f"  {'task':<6}{'function':<24}{'tried':>6}{'killed':>8}{'survived':>10}{'equivalent':>12}", file=file)
    for task, t in r.tasks.items():
        print(f"  {task.split()[0]:<6}{t.function:<24}{t.tried:>6}{t.killed:>8}{t.survived:>10}"
              f"{t.equivalent:>12}", file=file)
    for op, c in r.gap_classes.items():
        print(f"  {op + ':':<30}{c.tried:>6}{c.killed:>8}{c.survived:>10}{c.equivalent:>12}   "
              f"({GAP_CLASSES[op]}{': no check catches it' if c.survived else ''})", file=file)
    for task, fn in r.not_audited.items():
        print(f"  {task:<6}{fn:<24} not audited: graded from the files it writes "
              f"({', '.join(r.submission_files)}), which a mutant would hand in unchanged", file=file)
    if r.survivors:
        print("\n  Survivors (each a bug that keeps full marks): strengthen a check, or list it in "
              f"autograder/assignments/{r.assignment}/{EQUIVALENT_FILE} with the reason:", file=file)
        for m in r.survivors:
            print(f"    {m.task or '-':<5} {m.function:<22} {m.diff()}   [{m.operator}]", file=file)
    idle = [name for name, n in r.kills_per_check.items() if n == 0]
    if idle:
        print(f"\n  Checks that killed no mutant: {', '.join(idle)}", file=file)
    if r.stale_equivalents:
        print(f"\n  Listed as equivalent but no longer made (remove them from {EQUIVALENT_FILE}):", file=file)
        for fn, before, after in r.stale_equivalents:
            print(f"    {fn}: - {before}   + {after}", file=file)


def write_report(report: AuditReport, out: str | Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"audit_{report.assignment}.json"
    path.write_text(json.dumps(report.plain(), indent=1))
    return path
