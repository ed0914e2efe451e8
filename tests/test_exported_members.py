"""The public face: every exported name resolves, and the export lists are sorted and complete."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import collectorkit

SRC = Path(collectorkit.__file__).parent


def test_root_all_is_sorted_and_matches_the_export_table() -> None:
    names = [n for n in collectorkit.__all__ if n != "__version__"]
    assert names == sorted(names, key=str)
    assert set(names) == set(collectorkit._EXPORTS)


@pytest.mark.parametrize("name", sorted(collectorkit._EXPORTS))
def test_root_export_resolves_to_its_module(name: str) -> None:
    value = getattr(collectorkit, name)
    module = importlib.import_module(collectorkit._EXPORTS[name])
    assert getattr(module, name) is value


def test_type_checking_imports_cover_the_export_table() -> None:
    tree = ast.parse((SRC / "__init__.py").read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom):
                    imported |= {a.asname or a.name for a in sub.names}
    assert imported == set(collectorkit._EXPORTS)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = collectorkit.no_such_thing


def _modules() -> list[str]:
    return [
        m.name
        for m in pkgutil.walk_packages([str(SRC)], prefix="collectorkit.")
        if not m.name.endswith(("cli", "__main__"))
    ]


@pytest.mark.parametrize("module_name", _modules())
def test_module_all_is_sorted_and_defined(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{module_name} has no __all__"
    assert list(exported) == sorted(exported), f"{module_name}.__all__ is not sorted"
    for name in exported:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name!r}"
