"""Friendly scalar types of the configuration file, normalised once at load.

``Duration`` accepts ``30``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"7d"`` and ``timedelta`` and
becomes float seconds. ``Secret`` holds a credential that never shows in a repr or a dump unless
the caller asks for it (``Config.to_dict(reveal_secrets=True)``). ``CronExpression`` is checked
with croniter.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    WithJsonSchema,
)

__all__ = [
    "CronExpression",
    "Duration",
    "NonNegativeDuration",
    "Secret",
    "format_duration",
    "is_secret_name",
    "parse_duration",
]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_WHOLE = re.compile(r"\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+", re.IGNORECASE)
_NUMBER = re.compile(r"\s*\d+(?:\.\d+)?\s*")
DURATION_HINT = "use a number of seconds or e.g. 500ms, 30s, 5m, 1h30m, 7d"

SECRET_NAME_PATTERN = re.compile(
    r"token|secret|key|password|passwd|authorization|cookie|credential", re.IGNORECASE
)
"""Names of settings, headers and parameters whose values are masked wherever they are shown."""


# settings whose names mention a key or token but hold none: key_fields, key_id, token_url ...
_NOT_SECRET_SUFFIXES = ("_fields", "_field", "_header", "_url", "_param", "_path", "_id", "_method")


def is_secret_name(name: object) -> bool:
    """Whether a key called ``name`` holds a credential (``api_key``, ``X-Auth-Token`` ...)."""
    return (
        isinstance(name, str)
        and SECRET_NAME_PATTERN.search(name) is not None
        and not name.lower().endswith(_NOT_SECRET_SUFFIXES)
    )


def parse_duration(value: object) -> float:
    """Seconds from ``30``, ``"30"``, ``"30s"``, ``"1h30m"`` or a ``timedelta``.

    Raises ``ValueError`` naming the value and the accepted spellings; negative values are refused
    by the fields that use this (``Duration`` must be >= 0).
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration ({DURATION_HINT})")
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if _NUMBER.fullmatch(value):
            return float(value)
        if _WHOLE.fullmatch(value):
            return sum(float(n) * _UNITS[u.lower()] for n, u in _PART.findall(value))
    raise ValueError(f"{value!r} is not a duration ({DURATION_HINT})")


def format_duration(seconds: float) -> str:
    """The shortest spelling of ``seconds`` that :func:`parse_duration` reads back exactly."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s" if seconds else "0s"


def _non_negative(value: object) -> float:
    seconds = parse_duration(value)
    if seconds < 0:
        raise ValueError(f"{value!r} is negative; a duration must be >= 0")
    return seconds


_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d|w)?\s*)+$"},
    ],
    "description": f"Seconds, or a duration string ({DURATION_HINT}).",
}

Duration = Annotated[
    float, BeforeValidator(_non_negative), WithJsonSchema(_DURATION_SCHEMA, mode="validation")
]
"""Seconds (>= 0) written as a number or a duration string."""

NonNegativeDuration = Duration


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
