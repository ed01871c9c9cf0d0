"""The package's shape: one layered import contract over every module, no import cycles.

pyproject.toml's import-linter contracts keep the arrows pointing down (commands > presentation |
apps > strategies > drivers > sockets > engine > machines > formats > errors) and the declarations
and the engine free of I/O. These tests add what a contract cannot say: that every module, present
and future, sits in some layer, and that no cycle hides behind an import inside a function.
"""

import ast
import pathlib
import shutil
import subprocess
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "netstack"

# Imports inside functions are allowed only where they keep the command line quick to start: a
# command loads what it runs. Anywhere else such an import is how a cycle gets hidden.
LAZY_IMPORTS_ALLOWED = ("netstack/cli.py", "netstack/commands/")


def _layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    layered = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    assert len(layered) == 1, "one layered contract covers the whole package"
    return [{name.strip() for name in layer.split("|")} for layer in layered[0]["layers"]]


def test_import_contracts_are_kept():
    lint_imports = shutil.which("lint-imports")
    if lint_imports is None:
        pytest.skip("needs import-linter (pip install -e '.[test]' brings it)")
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_module_sits_in_one_layer():
    in_layers = [name for layer in _layers() for name in layer]
    assert len(in_layers) == len(set(in_layers)), "a module is named in two layers"
    top_level = {
        f"netstack.{path.stem if path.is_file() else path.name}"
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.name != "__init__.py") or (path / "__init__.py").exists()
    }
    missing = top_level - set(in_layers)
    assert not missing, f"add these to the layered contract in pyproject.toml: {sorted(missing)}"
    assert not set(in_layers) - top_level, "the contract names a module that does not exist"


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _netstack_imports(path: pathlib.Path, tree) -> list[tuple[ast.AST, str]]:
    found = []
    package = _module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([module] if module else []))
            if module.startswith("netstack"):
                # "from pkg import submodule" imports the submodule; "from pkg import name" the package
                found.extend((node, f"{module}.{alias.name}" if _is_module(f"{module}.{alias.name}") else module)
                             for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((node, alias.name) for alias in node.names if alias.name.startswith("netstack"))
    return found


def test_no_import_inside_a_function_outside_the_commands():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(LAZY_IMPORTS_ALLOWED):
            continue
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                offenders += [f"{relative}:{node.lineno} {module}" for node, module in _netstack_imports(path, function)]
    assert not offenders, "move these imports to the top of their module:\n" + "\n".join(sorted(set(offenders)))


def test_no_import_cycles():
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for _, module in _netstack_imports(path, ast.parse(path.read_text())):
            # "from netstack.formats import fast" names a module; "from netstack.formats import Frame" does not
            if module in modules and module != name:
                targets.add(module)
        graph[name] = targets
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)

