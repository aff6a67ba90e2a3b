"""The import graph of vpr_lib (every import, at module level or inside a function) has no cycle."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vpr_lib"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict:
    """{module: first-party modules it imports}; `from vpr_lib.x import y` counts vpr_lib.x.y when it is a module."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.startswith("vpr_lib")}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vpr_lib"):
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def find_cycle(graph: dict):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    graph = imports()
    assert "vpr_lib.train.run" in graph["vpr_lib.dispatch"]  # the scan sees imports inside functions
    cycle = find_cycle({m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()})
    assert cycle is None, " → ".join(cycle)


@pytest.mark.parametrize("graph,cycle", [({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]), ({"a": {"b"}, "b": set()}, None)])
def test_the_cycle_finder_finds_a_planted_cycle(graph, cycle):
    assert find_cycle(graph) == cycle
