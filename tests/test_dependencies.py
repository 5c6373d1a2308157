"""The declared dependencies are what the code imports: none missing, none unused."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = {"ruff"}  # dev dependencies that are run, not imported


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement ("rank-bm25==0.2.2" -> "rank-bm25")."""
    bare = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


def _imported(paths: list[Path]) -> set[str]:
    """Distributions whose modules these files import (the standard library and ours left out)."""
    modules = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names) | {"assistant", "tests", "__future__"}
    owners = packages_distributions()
    missing = sorted(m for m in modules if m not in owners)
    assert not missing, f"imported but not installed: {missing}"
    return {_name(dist) for m in modules for dist in owners[m]}


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    dev = {_name(r) for r in project["optional-dependencies"]["dev"]}
    return runtime, dev


def test_runtime_dependencies_are_exactly_what_the_code_imports():
    code = [*sorted((ROOT / "assistant").rglob("*.py")), ROOT / "app.py"]
    code += sorted((ROOT / "pages").glob("*.py"))
    runtime, _dev = _declared()
    imported = _imported(code)
    assert imported - runtime == set(), "imported but not declared in pyproject.toml"
    assert runtime - imported == set(), "declared in pyproject.toml but imported nowhere"


def test_tests_import_only_declared_dependencies():
    runtime, dev = _declared()
    imported = _imported(sorted((ROOT / "tests").rglob("*.py")))
    assert imported - runtime - dev == set()
    assert dev - TOOLS <= imported, "a dev dependency that no test imports"
