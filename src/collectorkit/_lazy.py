"""Lazy re-exports for a package's ``__init__``: each name is imported from its module on first use.

``import collectorkit`` (and ``collectorkit --help``) then loads no heavy dependency. The package
keeps its ``__all__`` and its ``TYPE_CHECKING`` imports (type checkers and readers see every name);
this module gives it the module-level ``__getattr__`` and ``__dir__`` that resolve them::

    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose ``exports`` map each name to the module
    that defines it. A resolved name is cached in the package's namespace; an unknown one is an
    ``AttributeError`` naming the package."""
    namespace = sys.modules[package].__dict__

    def resolve(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def names() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return resolve, names
