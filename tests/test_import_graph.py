"""Import cycles broken in round 2 stay broken: the control plane, the docs page and the composition root
(web/mock.py) do not import the Flask app (web/app.py), which imports them. Read from the source with
`ast`: every import at run time counts, at the top or inside a function; `if TYPE_CHECKING:` blocks don't."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mockmj"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name | ast.Attribute) and "TYPE_CHECKING" in ast.unparse(node.test)


def runtime_imports(path: Path) -> set[str]:
    """The mockmj modules a module imports when it runs (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m.startswith("mockmj")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in runtime_imports(path) if m in modules} for name, path in modules.items()}


def reaches(edges: dict[str, set[str]], start: str, target: str) -> list[str] | None:
    """An import chain from start to target, if there is one."""
    seen, stack = {start}, [[start]]
    while stack:
        chain = stack.pop()
        for nxt in edges.get(chain[-1], ()):
            if nxt == target:
                return [*chain, nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append([*chain, nxt])
    return None


@pytest.mark.parametrize("module", ["mockmj.control", "mockmj.web.docs", "mockmj.web.mock", "mockmj.logs",
                                    "mockmj.dashboard", "mockmj.web.api", "mockmj.web.hot"])
def test_does_not_import_the_app(module: str) -> None:
    assert reaches(graph(), module, "mockmj.web.app") is None


def test_the_app_imports_what_it_wires() -> None:
    edges = graph()
    assert {"mockmj.control", "mockmj.web.mock", "mockmj.web.hot"} <= edges["mockmj.web.app"]
    assert "mockmj.web.app" not in edges["mockmj.web.docs"]


@pytest.mark.parametrize("first", ["mockmj.control", "mockmj.web.mock", "mockmj.logs", "mockmj.web.docs"])
def test_each_module_imports_on_its_own(first: str) -> None:
    """No module needs another to be imported before it (what a cycle would make order-dependent)."""
    done = subprocess.run([sys.executable, "-c", f"import {first}; import mockmj.web.app"], capture_output=True,
                          text=True, timeout=60, check=False, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
