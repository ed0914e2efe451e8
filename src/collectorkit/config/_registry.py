"""The names the configuration file may use for sink types and processors.

The lists come from the sink and processor registries of their layers when those are importable,
plus anything registered here (plug-ins call :func:`register_sink_type` /
:func:`register_processor_name` before loading a config). The loader only checks names; building
the objects is the registries' job (``runtime/_build.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "known_processor_names",
    "known_sink_types",
    "known_state_schemes",
    "register_processor_name",
    "register_sink_type",
]

# Used until (or in addition to what) the layers' registries report.
_DEFAULT_SINKS = frozenset(
    {"sqlite", "jsonl", "json_files", "postgres", "redis", "http", "stdout", "memory"}
)
_DEFAULT_PROCESSORS = frozenset(
    {
        "validate",
        "json_schema",
        "map",
        "rename",
        "drop",
        "filter",
        "timestamp",
        "enrich",
        "mask",
        "dedup",
    }
)
_extra_sinks: set[str] = set()
_extra_processors: set[str] = set()


def register_sink_type(name: str) -> None:
    """Allow ``type: name`` in ``sinks`` (for sinks registered by a plug-in)."""
    _extra_sinks.add(name)


def register_processor_name(name: str) -> None:
    """Allow ``- name: {...}`` in a source's ``pipeline``."""
    _extra_processors.add(name)


def _from_layer(module: str, candidates: Iterable[str]) -> set[str]:
    """Names a layer's registry reports: a mapping, or a function returning names."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return set()
    for attr in candidates:
        found: Any = getattr(mod, attr, None)
        if found is None:
            continue
        if isinstance(found, Callable):  # type: ignore[arg-type]
            found = found()
        names = getattr(found, "names", None)
        if callable(names):
            found = names()
        try:
            return {str(n) for n in found}
        except TypeError:
            continue
    return set()


def known_sink_types() -> list[str]:
    """Every sink ``type`` the loader accepts, sorted."""
    layer = _from_layer("collectorkit.sinks", ("sink_types", "SINK_TYPES", "SINKS"))
    return sorted((layer or set(_DEFAULT_SINKS)) | _extra_sinks)


def known_processor_names() -> list[str]:
    """Every processor name a pipeline step may use, sorted."""
    layer = _from_layer(
        "collectorkit.pipeline", ("processor_names", "PROCESSORS", "PROCESSOR_REGISTRY")
    )
    return sorted((layer or set(_DEFAULT_PROCESSORS)) | _extra_processors)


_DEFAULT_SCHEMES = frozenset(
    {"sqlite", "postgresql", "postgres", "redis", "rediss", "http", "https", "memory"}
)


def known_state_schemes() -> list[str]:
    """Every URL scheme the ``state`` setting accepts, sorted."""
    layer = _from_layer("collectorkit.state", ("STATE_STORE_SCHEMES",))
    return sorted(layer or _DEFAULT_SCHEMES)
