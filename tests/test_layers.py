"""The import contract in pyproject.toml covers the whole house, and no import hides in a function.

`make lint` runs import-linter on the contract itself; these tests keep the contract honest: a new
module of bot/ must be placed in the core or among the shells, and an import of our own code inside a
function (an arrow the contract's readers would not see at a glance) is refused.
"""

from __future__ import annotations

import ast
import pkgutil
import re
from pathlib import Path

import tomllib

import bot

ROOT = Path(__file__).resolve().parent.parent
OWN_PACKAGES = ("bot", "actions", "bench")


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _layer_modules(layers: list[str]) -> set[str]:
    return {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}


def test_every_module_of_bot_is_either_core_or_shell():
    contracts = _contracts()
    core = set(contracts["core"]["source_modules"])
    shells = {m for m in contracts["core"]["forbidden_modules"] if m.startswith("bot.")}
    assert shells <= _layer_modules(contracts["shells"]["layers"]) | {"bot.nlu"}
    modules = {f"bot.{info.name}" for info in pkgutil.iter_modules(bot.__path__)}
    assert not core & shells
    assert modules == core | shells, {"unplaced": sorted(modules - core - shells),
                                      "gone": sorted((core | shells) - modules)}


def _local_imports(path: Path, root: Path = ROOT) -> list[str]:
    """`file:line module` for each import of our own code inside a function body."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = ["." if node.level else (node.module or "")]
            else:
                continue
            if any(name == "." or name.split(".")[0] in OWN_PACKAGES for name in names):
                found.append(f"{path.relative_to(root)}:{node.lineno} {', '.join(names)}")
    return found


def test_no_import_of_our_own_code_hides_inside_a_function():
    files = [path for package in OWN_PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             if "migrations" not in path.parts]
    assert len(files) > 50
    assert [hit for path in files for hit in _local_imports(path)] == []


def test_the_checker_sees_a_hidden_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import json\n\ndef f():\n    import jieba\n    from bot.db import sessions\n    return json\n")
    assert _local_imports(sample, tmp_path) == ["sample.py:5 bot.db"]


def test_settings_are_read_only_in_settings_py():
    """Environment variables are read in bot/settings.py alone (the services module only hands the
    environment on to the processes it starts)."""
    reads = re.compile(r"os\.environ\.get\(|os\.getenv\(|os\.environ\[")
    found = [f"{path.relative_to(ROOT)}:{n}" for package in ("bot", "actions")
             for path in sorted((ROOT / package).rglob("*.py")) if path.name != "settings.py"
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if reads.search(line)]
    assert found == []
