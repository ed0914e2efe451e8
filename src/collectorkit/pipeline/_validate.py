"""JSON validation: required fields and JSON Schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, best_match

from collectorkit._errors import ConfigError, ProcessingError
from collectorkit._records import Record
from collectorkit.pipeline._base import BaseProcessor
from collectorkit.pipeline._paths import MISSING, get_path

__all__ = ["JSONValidationProcessor"]


class JSONValidationProcessor(BaseProcessor):
    """Rejects records that miss a required field or do not match a JSON Schema.

    ``required_fields`` are dotted paths (``"meta.id"``). ``schema`` is any JSON Schema (the
    draft is taken from ``$schema``, default the newest); an invalid schema is a
    :class:`ConfigError` at construction. ``annotate=True`` adds ``_validated`` and
    ``_validated_at`` to records that pass, as in the seed's example.
    """

    def __init__(
        self,
        name: str = "json_validation",
        required_fields: Sequence[str] = (),
        *,
        schema: Mapping[str, Any] | None = None,
        annotate: bool = False,
    ) -> None:
        if isinstance(required_fields, str):
            required_fields = [required_fields]
        self.name = name
        self.required_fields = tuple(required_fields)
        self.annotate = annotate
        self._validator: Any = None
        if schema is not None:
            cls = jsonschema.validators.validator_for(schema)
            try:
                cls.check_schema(dict(schema))
            except SchemaError as exc:
                raise ConfigError(f"invalid JSON Schema: {exc.message}", path="schema") from None
            self._validator = cls(dict(schema))

    def __call__(self, record: Record) -> Record | None:
        missing = [f for f in self.required_fields if get_path(record, f) is MISSING]
        if missing:
            raise ProcessingError(f"Missing required fields: {missing}")
        if self._validator is not None:
            error = best_match(self._validator.iter_errors(record))
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                raise ProcessingError(f"schema violation at {where}: {error.message}")
        if self.annotate:
            return {**record, "_validated": True, "_validated_at": datetime.now(UTC).isoformat()}
        return record
