"""What the simulator's config objects share: building a frozen dataclass from a JSON object.

Errors are :class:`~collectorkit.ConfigError` naming the path, the field and the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from collectorkit._errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["checked_fields", "fail", "unvalidated"]

T = TypeVar("T", bound="DataclassInstance")


def fail(path: str, message: str) -> ConfigError:
    return ConfigError(message, path=path)


def checked_fields(
    cls: type[DataclassInstance], data: Any, path: str, kinds: Sequence[str]
) -> Mapping[str, Any]:
    """``data`` when it is an object of ``cls``'s fields that names its ``kind`` (one of
    ``kinds``), else the error for the first thing wrong with it."""
    if not isinstance(data, Mapping):
        raise fail(path, f"expected an object with 'kind', got {data!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise fail(f"{path}.{unknown[0]}", f"unknown field; known: {', '.join(sorted(known))}")
    if "kind" not in data:
        raise fail(f"{path}.kind", "missing; one of " + ", ".join(kinds))
    return data


def unvalidated(cls: type[T], values: Mapping[str, Any]) -> T:
    """A ``cls`` holding ``values`` (its defaults for the rest) without running
    ``__post_init__``: the caller validates it with the path it knows."""
    obj = cls.__new__(cls)
    for f in fields(cls):
        object.__setattr__(obj, f.name, values.get(f.name, f.default))
    return obj
