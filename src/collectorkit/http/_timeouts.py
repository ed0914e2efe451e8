"""The timeout settings of a client (durations read by :mod:`collectorkit._durations`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeAlias

from collectorkit._durations import parse_duration
from collectorkit._errors import ConfigError

__all__ = ["DEFAULT_MAX_RESPONSE_SIZE", "DurationInput", "TimeoutSettings", "parse_duration"]

DurationInput: TypeAlias = "float | int | str | timedelta"


DEFAULT_MAX_RESPONSE_SIZE = 64 * 1024 * 1024
"""The largest response body a client reads by default (64 MiB)."""


def _optional(value: DurationInput | None, field: str) -> float | None:
    return None if value is None else parse_duration(value, field=field)


def _size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"must be a number of bytes >= 1, got {value!r}",
            path="TimeoutSettings.max_response_size",
        )
    return value


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
class TimeoutSettings:
    """How long one connect, one read, one request and one whole collection may take, in
    seconds, and how large one response may be, in bytes.

    ``read`` bounds each wait for data; ``total`` bounds one request from connect to the last
    byte of its body, so a server sending a byte at a time cannot hold it (``None``:
    unbounded). ``execution`` is the budget of a whole collection (``None``: unbounded); the
    collector stops cleanly when the rest of it would not cover another request, and a
    request running into it (body read included) is cut at the budget. Each duration accepts
    ``30``, ``"30s"`` or a ``timedelta``. A response body longer than ``max_response_size``
    (default 64 MiB) is refused, by its ``Content-Length`` before it is read or while it
    streams in.
    """

    connect: float
    read: float
    total: float | None
    execution: float | None
    max_response_size: int

    def __init__(
        self,
        *,
        connect: DurationInput = 10.0,
        read: DurationInput = 30.0,
        total: DurationInput | None = 300.0,
        execution: DurationInput | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        values = {
            "connect": parse_duration(connect, field="TimeoutSettings.connect"),
            "read": parse_duration(read, field="TimeoutSettings.read"),
            "total": _optional(total, "TimeoutSettings.total"),
            "execution": _optional(execution, "TimeoutSettings.execution"),
            "max_response_size": _size(max_response_size),
        }
        for name in ("connect", "read", "total"):
            if values[name] == 0:
                raise ConfigError(
                    f"must be > 0, got {values[name]!r}", path=f"TimeoutSettings.{name}"
                )
        for name, number in values.items():
            object.__setattr__(self, name, number)

    @classmethod
    def coerce(cls, value: TimeoutSettings | DurationInput | None) -> TimeoutSettings:
        """``TimeoutSettings`` from itself, ``None`` (defaults) or one duration (read)."""
        if isinstance(value, TimeoutSettings):
            return value
        if value is None:
            return cls()
        return cls(read=value)

    def capped(self, remaining: float | None) -> TimeoutSettings:
        """These settings with connect, read and total no longer than ``remaining`` seconds."""
        if remaining is None or (
            remaining >= self.read
            and remaining >= self.connect
            and self.total is not None
            and remaining >= self.total
        ):
            return self
        floor = max(remaining, 0.001)
        return dataclasses.replace(
            self,
            connect=min(self.connect, floor),
            read=min(self.read, floor),
            total=floor if self.total is None else min(self.total, floor),
        )
