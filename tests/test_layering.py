"""Data and imports flow one way: lower layers never import higher ones (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "collectorkit"

CORE = {
    "_errors",
    "_clock",
    "_sync",
    "_records",
    "_redact",
    "_durations",
    "_instants",
    "_net",
    "_lifecycle",
    "_registry",
    "_lazy",
    "_immutable",
    "_locks",
    "typing",
}
# layer -> the layers of ours it may import (besides itself and the core modules).
# core → http → collect|state|pipeline → sinks|sources → delivery → connectors → config → daemon
# → cli|service
_LIBRARY = {"http", "collect", "state", "pipeline", "sinks", "sources"}
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "http": set(),
    "collect": {"http"},
    "state": {"http"},
    "pipeline": {"http"},
    "sinks": {"http", "state", "pipeline"},
    "sources": {"http", "collect"},
    "delivery": _LIBRARY,
    "connectors": _LIBRARY | {"delivery"},
    "config": _LIBRARY | {"delivery", "connectors"},
    "compat": _LIBRARY | {"delivery"},
    "daemon": _LIBRARY | {"delivery", "connectors", "config"},
    # beside the daemon, whose jobs, status server and metrics it runs under fencing
    "fleet": _LIBRARY | {"delivery", "connectors", "config", "daemon"},
    "simulator": set(),
    "service": {"http", "state"},
    "testing": _LIBRARY | {"compat"},
    "cli": _LIBRARY
    | {"delivery", "connectors", "config", "daemon", "fleet", "service", "simulator", "testing"},
    "__main__": {"cli"},
    "__init__": _LIBRARY | {"delivery", "connectors", "config", "compat", "testing"},
}


def _layer_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    head = rel.parts[0]
    if len(rel.parts) > 1:
        return head
    stem = rel.stem
    if stem in CORE:
        return "core"
    return stem


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("collectorkit.")
            and " " not in node.value
        ):
            # lazy imports by dotted name (importlib.import_module("collectorkit.x"))
            names = [node.value]
        for name in names:
            parts = name.split(".")
            if parts[0] != "collectorkit" or len(parts) == 1:
                continue
            target = parts[1]
            found.add("core" if target in CORE else target)
    return found


FILES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_import(path: Path) -> None:
    layer = _layer_of(path)
    assert layer in ALLOWED, f"{path}: unknown layer {layer!r}; add it to ALLOWED"
    allowed = ALLOWED[layer] | {layer, "core"}
    upward = _imported_layers(path) - allowed
    assert not upward, f"{path.relative_to(SRC)} ({layer}) imports {sorted(upward)}"


def test_nothing_imports_the_daemon_or_the_cli() -> None:
    for layer, allowed in ALLOWED.items():
        if layer not in {"cli", "__main__"}:
            assert "cli" not in allowed
        if layer not in {"daemon", "fleet", "cli", "__main__"}:
            assert "daemon" not in allowed


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from collectorkit.daemon import x\nimport collectorkit.sinks._sqlite\n")
    assert _imported_layers(bad) == {"daemon", "sinks"}
