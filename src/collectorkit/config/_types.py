"""Friendly scalar types of the configuration file, normalised once at load.

``Duration`` accepts what :func:`collectorkit._durations.parse_duration` reads (``30``,
``"30s"``, ``"5min"``, ``"1h30m"``, ``"7d"``, ``timedelta``) and becomes float seconds.
``Secret`` holds a credential that never shows in a repr or a dump unless the caller asks for it
(``Config.to_dict(reveal_secrets=True)``). ``CronExpression`` is checked with croniter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    WithJsonSchema,
)

from collectorkit._durations import DURATION_HINT, DURATION_PATTERN, format_duration, parse_duration
from collectorkit._redact import MASK, is_secret_name, redact

__all__ = [
    "CronExpression",
    "Duration",
    "Secret",
    "format_duration",
    "is_secret_name",
    "masked_repr",
    "parse_duration",
]


_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": DURATION_PATTERN},
    ],
    "description": f"Seconds, or a duration string ({DURATION_HINT}).",
}

Duration = Annotated[
    float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA, mode="validation")
]
"""Seconds (>= 0) written as a number or a duration string."""


def _serialize_secret(value: SecretStr, info: SerializationInfo) -> str:
    context = info.context
    if isinstance(context, dict) and context.get("reveal_secrets"):
        return value.get_secret_value()
    return "**********"


Secret = Annotated[
    SecretStr,
    PlainSerializer(_serialize_secret, return_type=str, when_used="always"),
    WithJsonSchema(
        {"type": "string", "description": "A credential; write ${ENV_VAR} or ${file:/path}."},
        mode="validation",
    ),
]
"""A credential: masked in reprs and dumps, revealed only with ``reveal_secrets``."""


def _check_cron(value: object) -> str:
    from croniter import croniter  # croniter is only needed when a cron schedule is configured

    if not isinstance(value, str) or not croniter.is_valid(value):
        raise ValueError(
            f"{value!r} is not a valid cron expression (five fields: minute hour day month weekday,"
            " e.g. '*/5 * * * *')"
        )
    return value


CronExpression = Annotated[
    str,
    BeforeValidator(_check_cron),
    WithJsonSchema(
        {"type": "string", "description": "A cron expression, e.g. '*/5 * * * *'."},
        mode="validation",
    ),
]


def masked_repr(value: Any, name: str | None = None) -> str:
    """``repr(value)`` with nothing a log line must not show: values under a secret name
    (:func:`~collectorkit._redact.is_secret_name`, also inside headers, params and the library's
    objects), URL passwords and secret query values, and every registered secret."""
    structured = isinstance(value, BaseModel) or dataclasses.is_dataclass(value)
    if name is not None and is_secret_name(name) and value is not None and not structured:
        return repr(MASK)
    if isinstance(value, BaseModel) and not isinstance(value, SecretStr):
        fields = {n: getattr(value, n) for n in type(value).model_fields}
        return _call(type(value).__name__, {**fields, **(value.model_extra or {})})
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        shown = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.repr}
        return _call(type(value).__name__, shown)
    if isinstance(value, Mapping):
        items = (f"{k!r}: {masked_repr(v, str(k))}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        inner = ", ".join(masked_repr(v) for v in value)
        return (
            f"[{inner}]"
            if isinstance(value, list)
            else f"({inner}{',' if len(value) == 1 else ''})"
        )
    if isinstance(value, str):
        return repr(redact(value))
    return str(redact(repr(value)))


def _call(name: str, arguments: Mapping[str, Any]) -> str:
    return f"{name}({', '.join(f'{k}={masked_repr(v, k)}' for k, v in arguments.items())})"
