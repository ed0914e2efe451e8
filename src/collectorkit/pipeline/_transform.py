"""Field mapping, filtering by expression, and static enrichment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import ConfigError, ProcessingError
from collectorkit._records import Record
from collectorkit.pipeline._base import BaseProcessor
from collectorkit.pipeline._paths import MISSING, get_path, pop_path, set_path

__all__ = ["EnrichProcessor", "FieldMapProcessor", "FilterProcessor", "compile_expression"]


def compile_expression(expression: str, *, path: str = "expression") -> Any:
    """A compiled JMESPath expression, or a :class:`ConfigError` naming it."""
    if not isinstance(expression, str) or not expression.strip():
        raise ConfigError(f"expected a JMESPath expression, got {expression!r}", path=path)
    try:
        compiled = jmespath.compile(expression)
    except JMESPathError as exc:
        raise ConfigError(f"invalid JMESPath expression {expression!r}: {exc}", path=path) from None
    unknown = sorted(_functions(compiled.parsed) - _KNOWN_FUNCTIONS)
    if unknown:
        raise ConfigError(
            f"JMESPath expression {expression!r} calls unknown function(s) {unknown}", path=path
        )
    return compiled


_KNOWN_FUNCTIONS = frozenset(jmespath.functions.Functions.FUNCTION_TABLE)
_EVAL_ERRORS = (JMESPathError, TypeError, ValueError)


def _functions(node: Any) -> set[str]:
    if not isinstance(node, dict):
        return set()
    found = {node["value"]} if node.get("type") == "function_expression" else set()
    for child in node.get("children", ()):
        found |= _functions(child)
    return found


class FieldMapProcessor(BaseProcessor):
    """Reshapes records: ``compute`` new fields, ``rename``, ``drop``, then keep only ``include``.

    Every name is a dotted path. ``compute`` maps a target path to a JMESPath expression evaluated
    on the incoming record (``{"severity": "attributes.level"}``); a rename whose source is missing
    is skipped.
    """

    def __init__(
        self,
        rename: Mapping[str, str] | None = None,
        *,
        drop: Sequence[str] = (),
        include: Sequence[str] | None = None,
        compute: Mapping[str, str] | None = None,
        name: str = "map",
    ) -> None:
        self.name = name
        self.rename = dict(rename or {})
        self.drop = tuple([drop] if isinstance(drop, str) else drop)
        self.include = None if include is None else tuple(include)
        self._compute = {
            target: compile_expression(expr, path=f"compute.{target}")
            for target, expr in (compute or {}).items()
        }

    def __call__(self, record: Record) -> Record | None:
        out = record
        for target, expr in self._compute.items():
            try:
                out = set_path(out, target, expr.search(record))
            except _EVAL_ERRORS as exc:
                raise ProcessingError(f"compute {target!r}: {exc}") from None
        for source, target in self.rename.items():
            out, value = pop_path(out, source)
            if value is not MISSING:
                out = set_path(out, target, value)
        for path in self.drop:
            out, _ = pop_path(out, path)
        if self.include is not None:
            kept: Record = {}
            for path in self.include:
                value = get_path(out, path)
                if value is not MISSING:
                    kept = set_path(kept, path, value)
            out = kept
        return out


class FilterProcessor(BaseProcessor):
    """Keeps records for which a JMESPath expression is truthy (``keep=False``: drops them).

    JMESPath is a query language, not code: nothing is evaluated. Example:
    ``"severity == 'high' && !contains(tags, 'test')"``. Records that make the expression fail
    (e.g. comparing a string with a number) go to dead-letter.
    """

    def __init__(self, expression: str, *, keep: bool = True, name: str = "filter") -> None:
        self.name = name
        self.expression = expression
        self.keep = keep
        self._compiled = compile_expression(expression)

    def __call__(self, record: Record) -> Record | None:
        try:
            result = self._compiled.search(record)
        except _EVAL_ERRORS as exc:
            raise ProcessingError(f"filter {self.expression!r}: {exc}") from None
        truthy = result not in (None, False, "", [], {})
        return record if truthy is self.keep else None


class EnrichProcessor(BaseProcessor):
    """Adds static fields, the source name and the collection time (UTC ISO 8601).

    Fields already present in the record are overwritten only with ``overwrite=True``. Pass
    ``None`` as ``source_field``/``collected_at_field`` to leave that one out.
    """

    def __init__(
        self,
        fields: Mapping[str, Any] | None = None,
        *,
        source: str | None = None,
        source_field: str | None = "_source",
        collected_at_field: str | None = "_collected_at",
        overwrite: bool = False,
        clock: Clock | None = None,
        name: str = "enrich",
    ) -> None:
        self.name = name
        self.fields = dict(fields or {})
        if source is not None and source_field:
            self.fields[source_field] = source
        self.collected_at_field = collected_at_field
        self.overwrite = overwrite
        self._clock: Clock = clock or SystemClock()
        self._stamp: tuple[int, str] = (-1, "")

    def _now(self) -> str:
        second = int(self._clock.time())
        if second != self._stamp[0]:  # one formatting per second, not per record
            text = datetime.fromtimestamp(second, UTC).isoformat().replace("+00:00", "Z")
            self._stamp = (second, text)
        return self._stamp[1]

    def __call__(self, record: Record) -> Record | None:
        extra = dict(self.fields)
        if self.collected_at_field:
            extra[self.collected_at_field] = self._now()
        if self.overwrite:
            return {**record, **extra}
        return {**extra, **record}
