"""The package's shape, checked from the source (``ast``, nothing imported).

* no import circle, counting the imports inside functions, and no exception list;
* dependencies point one way: each module's layer (:data:`LAYERS`) is at least that of
  every module it imports, and no program kind imports another;
* no module over 500 lines, no function over 80 lines of code (its docstring not counted);
* the solvers alone call ``Problem.solve``; only ``core/losses.py`` tests a loss's name;
  only the variant and the spec test the model and bias strings.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "convexnn"
MAX_LINES = 500
MAX_FUNCTION_LINES = 80

#: Layers, lowest first: a module may import only modules of its own layer or below.
#: The program kinds sit above the shared layers; the engine, pipeline and registry above
#: the kinds; the public face above them; the front ends on top.  Reports that run fits
#: (comparisons, relaxation bounds, extreme-point checks) are public-face code.
LAYERS = [
    ("convexnn.exceptions", "convexnn.core"),
    ("convexnn.networks", "convexnn.training.modules", "convexnn.training.parallel_module",
     "convexnn.training.conv_module"),
    ("convexnn.solvers", "convexnn.duality", "convexnn.neurons", "convexnn.spline", "convexnn.plotting",
     "convexnn.theory", "convexnn.training"),
    ("convexnn.two_layer", "convexnn.vector", "convexnn.three_layer", "convexnn.deep_1d",
     "convexnn.cnn"),
    ("convexnn.generation", "convexnn.pipeline", "convexnn.kinds"),
    ("convexnn.api", "convexnn.path", "convexnn.training.compare",
     "convexnn.training.compare_parallel", "convexnn.training.compare_conv",
     "convexnn.theory.relaxations",
     "convexnn.theory.extreme_points"),
    ("convexnn.estimators", "convexnn.cli", "convexnn.__main__"),
]
KINDS = ("convexnn.two_layer", "convexnn.vector", "convexnn.three_layer", "convexnn.deep_1d",
         "convexnn.cnn")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:``."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    return skip


def _targets(mods: dict, name: str, node: ast.AST, is_package: bool) -> list[str]:
    """The convexnn modules an import statement of module ``name`` names."""
    if isinstance(node, ast.Import):
        found = [alias.name for alias in node.names]
    else:
        if node.level:
            base = name.split(".")
            if not is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        found = [f"{module}.{a.name}" if f"{module}.{a.name}" in mods else module
                 for a in node.names]
    return [t for t in found if t in mods and t != name]


def import_graph(module_level_only: bool = False) -> dict[str, set[str]]:
    """Edges ``module -> imported convexnn modules`` from the source."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_nodes(tree)
        nodes = tree.body if module_level_only else ast.walk(tree)
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skip:
                graph[name].update(_targets(mods, name, node, path.name == "__init__.py"))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of the graph as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state:
                found = visit(w)
                if found:
                    return found
        state[v] = 2
        path.pop()
        return None

    for v in sorted(graph):
        if v not in state:
            found = visit(v)
            if found:
                return found
    return None


def layer(module: str) -> int:
    """The layer of a module: the one of its longest matching prefix in :data:`LAYERS`."""
    best, rank = -1, None
    for k, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), k
    if module == "convexnn":  # the package's lazy public face
        return len(LAYERS) - 2
    assert rank is not None, f"{module} is in no layer: add it to LAYERS"
    return rank


def _kind(module: str) -> str | None:
    return next((k for k in KINDS if module == k or module.startswith(k + ".")), None)


def _python_files():
    return sorted(PACKAGE.rglob("*.py"))


def _code_lines(fn: ast.AST) -> int:
    """Lines of a function without its docstring."""
    body = fn.body
    start = fn.lineno
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                             ast.Constant) \
            and isinstance(body[0].value.value, str):
        doc = body[0].end_lineno - body[0].lineno + 1
        return fn.end_lineno - start + 1 - doc
    return fn.end_lineno - start + 1


# ---- the checker itself ---------------------------------------------------------------------
def test_find_cycle_detects_a_circle_and_passes_a_dag():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_relative_and_deferred_imports():
    graph = import_graph()
    assert "convexnn.solvers.ipm" in graph["convexnn.solvers.rounds"]  # from .ipm import
    assert "convexnn.training.modules" in graph["convexnn.networks.two_layer"]  # in a method
    assert "convexnn.networks.two_layer" not in import_graph(True)["convexnn.core.losses"]


def test_code_lines_skip_the_docstring():
    fn = ast.parse('def f():\n    """doc\n    more"""\n    return 1\n').body[0]
    assert _code_lines(fn) == 2


# ---- the rules ------------------------------------------------------------------------------
def test_no_import_circles_with_function_level_imports():
    assert find_cycle(import_graph()) is None


def test_dependencies_point_one_way():
    bad = [(a, b) for a, targets in import_graph().items() for b in targets
           if layer(b) > layer(a)]
    assert not bad, f"imports from a lower layer into a higher one: {bad}"


def test_no_program_kind_imports_another():
    bad = [(a, b) for a, targets in import_graph().items() for b in targets
           if _kind(a) and _kind(b) and _kind(a) != _kind(b)]
    assert not bad, bad


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_500_lines(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines (split it along its steps)"


def test_no_function_over_80_lines():
    long = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = _code_lines(node)
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n})")
    assert not long, long


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node


def test_only_the_solver_backends_call_problem_solve():
    """``x.solve(...)`` outside solvers/: only linear-algebra solves (``*.linalg.solve``)."""
    bad = []
    for path in _python_files():
        if path.parent.name == "solvers":
            continue
        for call in _calls(path):
            receiver = ast.unparse(call.func.value)
            if call.func.attr == "solve" and not receiver.endswith("linalg"):
                bad.append(f"{path.relative_to(ROOT)}:{call.lineno} {receiver}.solve")
    assert not bad, bad


def _compares(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            yield node


def _strings(node: ast.AST) -> bool:
    """A string constant or a tuple/list/set of them."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    return isinstance(node, ast.Tuple | ast.List | ast.Set) and bool(node.elts) \
        and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)


def test_no_loss_name_tests_outside_losses():
    bad = []
    for path in _python_files():
        if path.name == "losses.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "LOSS_LIPSCHITZ" not in text, f"{path}: use Loss.lipschitz"
        for cmp in _compares(path):
            sides = [cmp.left, *cmp.comparators]
            if any(isinstance(s, ast.Attribute) and s.attr == "name"
                   and "loss" in ast.unparse(s.value) for s in sides) \
                    and any(_strings(s) for s in sides):
                bad.append(f"{path.relative_to(ROOT)}:{cmp.lineno} {ast.unparse(cmp)}")
    assert not bad, bad


def test_no_model_or_bias_string_tests_outside_the_variant():
    allowed = {PACKAGE / "core" / "variant.py", PACKAGE / "core" / "spec.py"}
    bad = []
    for path in _python_files():
        if path in allowed:
            continue
        for cmp in _compares(path):
            sides = [cmp.left, *cmp.comparators]
            names = [ast.unparse(s) for s in sides if isinstance(s, ast.Name | ast.Attribute)]
            if any(n.split(".")[-1] in ("bias", "model") for n in names) \
                    and any(_strings(s) for s in sides):
                bad.append(f"{path.relative_to(ROOT)}:{cmp.lineno} {ast.unparse(cmp)}")
    assert not bad, bad
