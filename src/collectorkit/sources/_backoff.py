"""When a streaming source reconnects: exponential backoff with jitter, decided without I/O."""

from __future__ import annotations

from dataclasses import dataclass

from collectorkit._durations import Seconds, parse_duration
from collectorkit._errors import ConfigError

__all__ = ["ReconnectPolicy"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectPolicy:
    """How long to wait before reconnect number ``attempt`` (1 = first after a failure).

    The wait is ``base * multiplier ** (attempt - 1)``, capped at ``max_delay``, then spread by
    ``± jitter`` (a fraction) so that many clients do not reconnect in step. ``base`` is
    ``initial_delay`` unless the server asked for another (SSE ``retry:``). ``attempt`` counts
    *consecutive* failures: a connection that delivered an event resets it. After
    ``max_attempts`` consecutive failures (``None``: never) the source gives up.
    """

    initial_delay: Seconds = 0.5
    multiplier: float = 2.0
    max_delay: Seconds = 30.0
    jitter: float = 0.1
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        for name in ("initial_delay", "max_delay"):  # "2s" as well as 2 (one duration reader)
            seconds = parse_duration(getattr(self, name), field=f"ReconnectPolicy.{name}")
            object.__setattr__(self, name, seconds)
        checks = {
            "initial_delay": self.initial_delay >= 0,
            "multiplier": self.multiplier >= 1,
            "max_delay": self.max_delay >= 0,
            "jitter": 0 <= self.jitter <= 1,
            "max_attempts": self.max_attempts is None or self.max_attempts >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(
                    f"invalid value {getattr(self, name)!r}", path=f"ReconnectPolicy.{name}"
                )

    def delay(
        self, attempt: int, *, server_delay: float | None = None, rand: float = 0.5
    ) -> float | None:
        """Seconds to wait before reconnecting, or ``None`` to give up.

        ``rand`` in ``[0, 1)`` is the caller's random draw (0.5 means no jitter), so that the
        decision stays deterministic under test.
        """
        if self.max_attempts is not None and attempt > self.max_attempts:
            return None
        base = self.initial_delay if server_delay is None else server_delay
        raw = min(base * self.multiplier ** max(attempt - 1, 0), self.max_delay)
        return max(0.0, raw * (1 + self.jitter * (2 * rand - 1)))
