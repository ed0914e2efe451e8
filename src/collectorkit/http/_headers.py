"""A case-insensitive header mapping, shared by requests and responses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import TypeAlias

from collectorkit.http._redact import redact

__all__ = ["Headers", "HeadersInput"]

HeadersInput: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]] | None"


_SEQUENCES = (list, tuple)


class Headers(MutableMapping[str, str]):
    """Header names compare case-insensitively and keep the spelling they were first set with.

    A name given more than once (as raw pairs from the wire) keeps its values joined by ``", "``,
    as RFC 9110 allows for list-valued fields.
    """

    __slots__ = ("_items",)

    def __init__(self, headers: HeadersInput = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        if headers is None:
            return
        if type(headers) is list:  # pairs from a transport: the hot path
            pairs: Sequence[tuple[str, str]] = headers
        elif isinstance(headers, dict) or (
            not isinstance(headers, _SEQUENCES) and isinstance(headers, Mapping)
        ):
            self._items = {name.lower(): (name, value) for name, value in headers.items()}
            return
        else:
            pairs = headers if isinstance(headers, _SEQUENCES) else list(headers)
        self._items = items = {}
        for name, value in pairs:  # a loop, not a comprehension: no function call per response
            items[name.lower()] = (name, value)
        if len(items) == len(pairs):
            return
        items.clear()  # a name repeats: join its values in order
        for name, value in pairs:
            key = name.lower()
            old = items.get(key)
            items[key] = (name, value) if old is None else (old[0], f"{old[1]}, {value}")

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __setitem__(self, name: str, value: str) -> None:
        self._items[name.lower()] = (name, value)

    def __delitem__(self, name: str) -> None:
        del self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {k: v for k, (_, v) in self._items.items()} == {
            str(k).lower(): v for k, v in other.items()
        }

    __hash__ = None  # type: ignore[assignment]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        item = self._items.get(name.lower())
        return default if item is None else item[1]

    def copy(self) -> Headers:
        new = Headers.__new__(Headers)
        new._items = self._items.copy()
        return new

    def first(self, names: tuple[str, ...]) -> str | None:
        """The value of the first of ``names`` (lower case) that is present, else ``None``."""
        items = self._items
        for name in names:
            item = items.get(name)
            if item is not None:
                return item[1]
        return None

    def items_dict(self) -> dict[str, tuple[str, str]]:
        """A copy of the internal ``{lower name: (name, value)}`` table (a client keeps its
        default headers so, built once, and copies it into each request's headers)."""
        return self._items.copy()

    def pairs(self) -> list[tuple[str, str]]:
        """The headers as ``(name, value)`` pairs, for a transport."""
        return list(self._items.values())

    def __repr__(self) -> str:
        return f"Headers({redact(dict(self._items.values()))!r})"
