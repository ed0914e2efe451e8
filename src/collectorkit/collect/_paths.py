"""JMESPath expressions, compiled once and validated where they are configured."""

from __future__ import annotations

import re
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from collectorkit._errors import ConfigError
from collectorkit._records import lookup_path

__all__ = ["JSONPath", "compile_path", "dotted_keys"]


_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def dotted_keys(expression: str) -> tuple[str, ...] | None:
    """The keys of a plain dotted path (``meta.next`` → ``("meta", "next")``); ``None`` for any
    other JMESPath expression."""
    return tuple(expression.split(".")) if _DOTTED.fullmatch(expression) else None


class JSONPath:
    """A compiled JMESPath expression (``meta.next_cursor``, ``[-1].id``, ``"@odata.nextLink"``).

    Plain dotted paths — most of them — are looked up by :func:`collectorkit._records.lookup_path`
    with JMESPath's result (a missing key or a non-object on the way gives ``None``), at a
    fraction of the cost.
    """

    __slots__ = ("_keys", "_parsed", "expression")

    def __init__(self, expression: str, parsed: ParsedResult) -> None:
        self.expression = expression
        self._parsed = parsed
        self._keys = dotted_keys(expression)

    def search(self, data: Any) -> Any:
        """The value at this path in ``data``, or ``None`` when it is not there."""
        if self._keys is not None:
            return lookup_path(data, self._keys)
        try:
            return self._parsed.search(data)
        except JMESPathError:
            return None

    def __repr__(self) -> str:
        return f"JSONPath({self.expression!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JSONPath) and other.expression == self.expression

    def __hash__(self) -> int:
        return hash(self.expression)


def compile_path(expression: str | None, *, field: str) -> JSONPath | None:
    """Compile ``expression``; a :class:`ConfigError` naming ``field`` when it is not JMESPath.

    A key that JMESPath cannot spell bare (``@odata.nextLink``) may be written quoted:
    ``'"@odata.nextLink"'``.
    """
    if expression is None:
        return None
    if not isinstance(expression, str) or not expression.strip():
        raise ConfigError(f"expected a JMESPath expression, got {expression!r}", path=field)
    try:
        return JSONPath(expression, jmespath.compile(expression))
    except JMESPathError as exc:
        raise ConfigError(f"invalid JMESPath {expression!r}: {exc}", path=field) from None
