"""The core's shape, checked from its own source: no import cycle among zoo_core modules
(function-local imports included), no module over ~400 lines, no function over ~60."""
import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "zoo_core"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def core_modules() -> dict[str, Path]:
    return {".".join(p.relative_to(CORE).with_suffix("").parts).removesuffix(".__init__") or "__init__": p
            for p in sorted(CORE.rglob("*.py"))}


def imports_of(name: str, path: Path, modules) -> set[str]:
    """The zoo_core modules ``name`` imports, wherever the import statement stands."""
    package = name.split(".")[:-1] if not path.name == "__init__.py" else name.split(".")
    if name == "__init__":
        package = []
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            stem = ".".join(base + ([node.module] if node.module else []))
            targets = [stem] + [f"{stem}.{a.name}".strip(".") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("zoo_core"):
            stem = node.module.removeprefix("zoo_core").strip(".")
            targets = [stem] + [f"{stem}.{a.name}".strip(".") for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name.removeprefix("zoo_core").strip(".") for a in node.names if a.name.startswith("zoo_core.")]
        found |= {t for t in targets if t in modules and t != name}
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(v):
        state[v] = "open"
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == "open":
                return stack[stack.index(w):] + [w]
            if w not in state and (cycle := visit(w)):
                return cycle
        state[v] = "done"
        stack.pop()
        return None

    for v in sorted(graph):
        if v not in state and (cycle := visit(v)):
            return cycle
    return None


def test_no_import_cycle_among_core_modules():
    modules = core_modules()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    graph.pop("__init__", None)  # the package's lazy public API imports the modules it fronts
    for deps in graph.values():
        deps.discard("__init__")
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", sorted(core_modules()))
def test_core_modules_and_functions_read_in_one_sitting(name):
    path = core_modules()[name]
    lines = path.read_text().count("\n")
    assert lines <= MAX_MODULE_LINES, f"{path.name}: {lines} lines"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{path.name}: {node.name} has {length} lines"
