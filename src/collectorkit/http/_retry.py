"""The retry policy: a pure decision from an attempt's outcome to "retry after N s" or "give up"."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from collectorkit._errors import ConfigError
from collectorkit.http._server_hints import pause_header, quota_exhausted, server_pause
from collectorkit.http._timeouts import DurationInput, parse_duration

__all__ = [
    "RetryDecision",
    "RetryPolicy",
    "RetryStrategy",
    "backoff_disabled",
    "set_backoff_disabled",
]

SERVER_ERROR_STATUS_CODES = frozenset(code for code in range(500, 600) if code != 501)
"""Every 5xx but 501 Not Implemented (which no retry cures), Cloudflare's 520–527 included —
go-retryablehttp's rule: what counts as the service failing, for retries and the breaker."""
DEFAULT_RETRYABLE_STATUS_CODES = frozenset({408, 425, 429}) | SERVER_ERROR_STATUS_CODES
"""The statuses retried by default: the server errors, and of the 4xx only 408 Request
Timeout, 425 Too Early and 429 Too Many Requests."""
JITTER_FRACTION = 0.25
DEFAULT_MAX_SERVER_WAIT = 300.0
"""The longest wait a server may ask for and get (five minutes)."""
_state = {"no_backoff": False}


def set_backoff_disabled(disabled: bool) -> None:
    """Make every retry wait zero (tests); see ``collectorkit.testing.no_backoff``."""
    _state["no_backoff"] = disabled


def backoff_disabled() -> bool:
    return _state["no_backoff"]


class RetryStrategy(enum.StrEnum):
    """How the wait grows between attempts."""

    EXPONENTIAL = "exponential"
    LINEAR = "linear"
    FIXED = "fixed"


class RetryDecision(NamedTuple):
    """``retry`` after ``delay`` seconds, or not; ``reason`` says why (for logs and metrics)."""

    retry: bool
    delay: float
    reason: str
    server_hint: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
class RetryPolicy:
    """When to send a request again, and how long to wait first.

    ``max_attempts`` counts every attempt, the first included (``1`` disables retries). The wait
    before retry *n* (0-based) is, by ``strategy``:

    * ``exponential``: ``initial_delay * multiplier ** n``
    * ``linear``: ``initial_delay * (n + 1) * multiplier``
    * ``fixed``: ``initial_delay``

    capped at ``max_delay``; with ``jitter`` a uniform ±25 % is applied (then capped again), so
    clients that failed together do not retry together. When ``respect_retry_after`` is set,
    the server's wait is used instead, unjittered and not capped by ``max_delay``, for a 429 or
    5xx with ``Retry-After`` (seconds or an HTTP date), and for a rate-limit reset header when
    the quota is spent (a 429, or ``X-RateLimit-Remaining: 0``); a 5xx with quota left and no
    ``Retry-After`` gets the backoff. A server wait longer than ``max_server_wait`` (default
    five minutes: ``Retry-After: 1e9``, a date in 2100) is not obeyed: the backoff applies and
    the decision's reason names the header and its value. The driver caps every wait by the
    remaining time budget.
    """

    max_attempts: int
    strategy: RetryStrategy
    initial_delay: float
    multiplier: float
    max_delay: float
    jitter: bool
    retryable_status_codes: frozenset[int]
    retry_on_timeout: bool
    retry_on_connection_error: bool
    respect_retry_after: bool
    max_server_wait: float

    def __init__(
        self,
        *,
        max_attempts: int = 4,
        strategy: RetryStrategy | str = RetryStrategy.EXPONENTIAL,
        initial_delay: DurationInput = 1.0,
        multiplier: float = 2.0,
        max_delay: DurationInput = 60.0,
        jitter: bool = True,
        retryable_status_codes: Iterable[int] = DEFAULT_RETRYABLE_STATUS_CODES,
        retry_on_timeout: bool = True,
        retry_on_connection_error: bool = True,
        respect_retry_after: bool = True,
        max_server_wait: DurationInput = DEFAULT_MAX_SERVER_WAIT,
    ) -> None:
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ConfigError(
                f"must be an integer >= 1, got {max_attempts!r}", path="RetryPolicy.max_attempts"
            )
        try:
            strategy = RetryStrategy(strategy)
        except ValueError:
            known = ", ".join(s.value for s in RetryStrategy)
            raise ConfigError(
                f"unknown strategy {strategy!r} (known: {known})", path="RetryPolicy.strategy"
            ) from None
        if (
            isinstance(multiplier, bool)
            or not isinstance(multiplier, int | float)
            or not multiplier >= 1
        ):
            raise ConfigError(
                f"must be a number >= 1, got {multiplier!r}", path="RetryPolicy.multiplier"
            )
        codes = frozenset(retryable_status_codes)
        bad = sorted(c for c in codes if not isinstance(c, int) or not 100 <= c <= 599)
        if bad:
            raise ConfigError(
                f"not HTTP status codes: {bad!r}", path="RetryPolicy.retryable_status_codes"
            )
        values = {
            "max_attempts": max_attempts,
            "strategy": strategy,
            "initial_delay": parse_duration(initial_delay, field="RetryPolicy.initial_delay"),
            "multiplier": float(multiplier),
            "max_delay": parse_duration(max_delay, field="RetryPolicy.max_delay"),
            "jitter": bool(jitter),
            "retryable_status_codes": codes,
            "retry_on_timeout": bool(retry_on_timeout),
            "retry_on_connection_error": bool(retry_on_connection_error),
            "respect_retry_after": bool(respect_retry_after),
            "max_server_wait": parse_duration(max_server_wait, field="RetryPolicy.max_server_wait"),
        }
        initial, ceiling = values["initial_delay"], values["max_delay"]
        if isinstance(initial, float) and isinstance(ceiling, float) and ceiling < initial:
            raise ConfigError(
                f"must be >= initial_delay ({initial!r}), got {ceiling!r}",
                path="RetryPolicy.max_delay",
            )
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def backoff(self, retry_number: int, *, rand: float = 0.5) -> float:
        """Seconds to wait before retry ``retry_number`` (0-based); ``rand`` in [0, 1) drives the
        jitter (0.5 means none)."""
        if self.strategy is RetryStrategy.EXPONENTIAL:
            delay = self.initial_delay * self.multiplier ** min(retry_number, 64)
        elif self.strategy is RetryStrategy.LINEAR:
            delay = self.initial_delay * (retry_number + 1) * self.multiplier
        else:
            delay = self.initial_delay
        delay = min(delay, self.max_delay)
        if self.jitter:
            delay *= 1.0 + JITTER_FRACTION * (2.0 * rand - 1.0)
        return max(0.0, min(delay, self.max_delay))

    def decide(
        self,
        *,
        attempt: int,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        error: str | None = None,
        now: float = 0.0,
        rand: float = 0.5,
    ) -> RetryDecision:
        """Whether to retry after ``attempt`` attempts (1 after the first) ended with
        ``status_code`` (and ``headers``) or with ``error`` (``"timeout"`` or ``"connection"``).
        ``now`` is wall-clock epoch seconds, used for an HTTP-date Retry-After."""
        reason = self._retryable(status_code, error)
        if reason is None and self.is_throttle(status_code, headers):
            reason = f"status {status_code} with the rate-limit quota spent"
        if reason is None:
            return RetryDecision(False, 0.0, "not retryable")
        if attempt >= self.max_attempts:
            return RetryDecision(False, 0.0, f"{reason}; {self.max_attempts} attempts exhausted")
        if backoff_disabled():
            return RetryDecision(True, 0.0, reason)
        if self.respect_retry_after and headers is not None:
            wait = server_pause(status_code, headers, now)
            if wait is not None and wait <= self.max_server_wait:
                return RetryDecision(True, wait, reason, server_hint=True)
            if wait is not None:
                delay = self.backoff(attempt - 1, rand=rand)
                reason = f"{reason}; {self.refused_wait(headers, wait)}, backing off {delay:g}s"
                return RetryDecision(True, delay, reason)
        return RetryDecision(True, self.backoff(attempt - 1, rand=rand), reason)

    def refused_wait(self, headers: Mapping[str, str], wait: float) -> str:
        """Why a server-requested ``wait`` is not obeyed, naming the header and its value."""
        return (
            f"the server asked for a wait of {wait:g}s ({pause_header(headers)}), "
            f"over max_server_wait ({self.max_server_wait:g}s)"
        )

    def is_throttle(self, status_code: int | None, headers: Mapping[str, str] | None) -> bool:
        """A 403 whose rate-limit headers say the quota is spent (GitHub's primary limit) is a
        throttle, retried like a 429 when 429 is retryable; any other 403 stays a refusal."""
        return (
            status_code == 403
            and headers is not None
            and 429 in self.retryable_status_codes
            and quota_exhausted(headers)
        )

    def _retryable(self, status_code: int | None, error: str | None) -> str | None:
        if error == "timeout":
            return "timeout" if self.retry_on_timeout else None
        if error is not None:
            return "connection error" if self.retry_on_connection_error else None
        if status_code in self.retryable_status_codes:
            return f"status {status_code}"
        return None
