"""The import graph of vpr_lib (every import, at module level or inside a function) has no cycle."""
import ast
import re
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


# Layers, lowest first: a module imports its own layer or lower ones (docs/extending.md). Command lines
# (`__main__`) sit above everything.
LAYERS = [
    # evaluate: the recall metrics; settings: every training parameter's default (pure data, read by config)
    ("base", ("errors", "paths", "results", "runs", "process", "stats", "evaluate", "settings", "executed")),
    ("data", ("data", "synth")),
    ("models", ("models",)),
    ("train", ("train",)),
    ("experiments", ("config", "experiments", "comparisons", "analysis", "knn", "plan", "viz", "dispatch",
                     "notebooks", "retrieve", "family", "brief", "seeds", "diagnosis", "notebook_prose")),
    ("report", ("report",)),
]
# Modules that import first-party modules inside functions, and why (anything else imports at the top).
LAZY = {"vpr_lib.dispatch": "vpr_lib.notebooks imports it and must not load torch unless it dispatches",
        "vpr_lib.train.__main__": "--help and a bad --set answer without loading torch"}


def layer_of(module: str) -> int:
    if module.endswith(".__main__"):
        return len(LAYERS)
    top = module.split(".")[1] if "." in module else ""
    for i, (_, tops) in enumerate(LAYERS):
        if top in tops:
            return i
    raise AssertionError(f"{module} is in no layer of tests/test_architecture.py: add it to LAYERS")


def test_no_module_imports_a_higher_layer():
    upward = [f"{m} → {d}" for m, deps in imports().items() if m != "vpr_lib"
              for d in deps if layer_of(d) > layer_of(m)]
    assert not upward, upward


def test_first_party_imports_inside_functions_only_where_a_reason_is_given():
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("vpr_lib"):
                        found.add(module_name(path))
    assert found <= set(LAZY), sorted(found - set(LAZY))


def test_config_reads_params_without_importing_training():
    """config.py (params files) sits below training: it imports nothing from vpr_lib.train, at any depth."""
    graph = imports()
    seen, todo = set(), ["vpr_lib.config"]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    assert not {m for m in seen if m.startswith("vpr_lib.train")}, sorted(seen)


RUN_FILES = re.compile(r"(?<![\w])(params\.yaml|env\.json|epochs\.csv|epoch0\.json|metrics\.json|best\.ckpt|last\.ckpt)")
SET_SLUG = re.compile(r"""\.replace\(\s*['"]/['"]\s*,\s*['"]_['"]\s*\)""")


def code_strings(path: Path):
    """(line, text) of the string constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text())
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs]


def test_the_run_folder_s_file_names_and_set_names_are_spelled_in_vpr_lib_runs_only():
    """Issue 32: the store owns the run folder (vpr_lib.runs.Run); nobody else builds its paths."""
    names = [f"{path.relative_to(PACKAGE)}:{line} {text[:60]!r}" for path in PACKAGE.rglob("*.py")
             if path.name != "runs.py" for line, text in code_strings(path) if RUN_FILES.search(text)]
    assert not names, names
    slugs = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if SET_SLUG.search(path.read_text())]
    assert slugs == ["runs.py"], slugs


def test_no_module_outside_the_samplers_switches_on_a_sampler_s_name():
    """Issue 32: a sampler carries its own behaviour (vpr_lib.train.samplers); nobody else tests its name."""
    from vpr_lib.train.samplers import SAMPLERS
    owners = {"data/samplers.py", "train/samplers.py", "settings.py"}  # settings: the default sampler's name
    found = [f"{path.relative_to(PACKAGE)}:{line} {text!r}" for path in PACKAGE.rglob("*.py")
             if str(path.relative_to(PACKAGE)) not in owners for line, text in code_strings(path) if text in SAMPLERS]
    assert not found, found
