"""Friendly scalar types of the configuration file, normalised once at load.

``Duration`` accepts what :func:`collectorkit._durations.parse_duration` reads (``30``,
``"30s"``, ``"5min"``, ``"1h30m"``, ``"7d"``, ``timedelta``) and becomes float seconds.
``Secret`` holds a credential that never shows in a repr or a dump unless the caller asks for it
(``Config.to_dict(reveal_secrets=True)``). ``CronExpression`` is checked with croniter.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    WithJsonSchema,
)

from collectorkit._durations import DURATION_HINT, DURATION_PATTERN, format_duration, parse_duration
from collectorkit._redact import is_secret_name

__all__ = [
    "CronExpression",
    "Duration",
    "NonNegativeDuration",
    "Secret",
    "format_duration",
    "is_secret_name",
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
