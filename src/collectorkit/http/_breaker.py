"""The circuit breaker: closed → open → half-open → closed.

:class:`BreakerState` is sans-I/O (it is told ``now``); :class:`CircuitBreaker` wraps it with a
clock for use around any coroutine, as a decorator or via :meth:`CircuitBreaker.call`.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import CircuitOpenError, ConfigError, HTTPStatusError, RequestTimeoutError
from collectorkit.http._retry import SERVER_ERROR_STATUS_CODES
from collectorkit.http._timeouts import DurationInput, parse_duration

__all__ = ["BreakerState", "CircuitBreaker", "CircuitBreakerPolicy", "CircuitState"]

P = ParamSpec("P")
T = TypeVar("T")


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def _count(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"must be an integer >= 1, got {value!r}", path=path)
    return value


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
class CircuitBreakerPolicy:
    """Open after ``failure_threshold`` consecutive failures; after ``recovery_timeout`` let
    ``success_threshold`` trial requests through (half-open); close when they all succeed,
    reopen on any failure. A failure is a response with a status in ``failure_status_codes``
    (default: every 5xx but 501), a connection error, or (with ``count_timeouts_as_failures``)
    a timeout."""

    failure_threshold: int
    recovery_timeout: float
    success_threshold: int
    failure_status_codes: frozenset[int]
    count_timeouts_as_failures: bool

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        recovery_timeout: DurationInput = 60.0,
        success_threshold: int = 2,
        failure_status_codes: Iterable[int] = SERVER_ERROR_STATUS_CODES,
        count_timeouts_as_failures: bool = True,
    ) -> None:
        values = {
            "failure_threshold": _count(
                failure_threshold, "CircuitBreakerPolicy.failure_threshold"
            ),
            "recovery_timeout": parse_duration(
                recovery_timeout, field="CircuitBreakerPolicy.recovery_timeout"
            ),
            "success_threshold": _count(
                success_threshold, "CircuitBreakerPolicy.success_threshold"
            ),
            "failure_status_codes": frozenset(failure_status_codes),
            "count_timeouts_as_failures": bool(count_timeouts_as_failures),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def is_failure(self, *, status_code: int | None = None, error: str | None = None) -> bool:
        """Whether an outcome counts against the service (``error``: "timeout"/"connection")."""
        if error == "timeout":
            return self.count_timeouts_as_failures
        if error is not None:
            return True
        return status_code in self.failure_status_codes

    def is_failure_exception(self, exc: BaseException) -> bool:
        """Whether an exception raised by a wrapped call counts as a failure."""
        if isinstance(exc, CircuitOpenError):
            return False
        if isinstance(exc, HTTPStatusError):
            return self.is_failure(status_code=exc.status_code)
        if isinstance(exc, RequestTimeoutError | TimeoutError):
            return self.count_timeouts_as_failures
        return isinstance(exc, Exception)


class BreakerState:
    """The mutable state of one breaker; every method takes monotonic ``now``."""

    __slots__ = ("_failures", "_opened_at", "_probes", "_successes", "opens", "policy", "state")

    def __init__(self, policy: CircuitBreakerPolicy) -> None:
        self.policy = policy
        self.state = CircuitState.CLOSED
        self.opens = 0
        self._failures = 0
        self._successes = 0
        self._probes = 0
        self._opened_at = 0.0

    def check(self, now: float) -> float | None:
        """``None`` when a request may go (take it: report its outcome with ``record_*``), else
        the seconds until the breaker will let a trial request through."""
        if self.state is CircuitState.OPEN:
            left = self._opened_at + self.policy.recovery_timeout - now
            if left > 0:
                return left
            self.state = CircuitState.HALF_OPEN
            self._successes = 0
            self._probes = 0
        if self.state is CircuitState.HALF_OPEN:
            if self._probes >= self.policy.success_threshold:
                return 0.0
            self._probes += 1
        return None

    def record_success(self, now: float) -> None:
        if self.state is CircuitState.HALF_OPEN:
            self._probes = max(0, self._probes - 1)
            self._successes += 1
            if self._successes >= self.policy.success_threshold:
                self.state = CircuitState.CLOSED
                self._failures = 0
        else:
            self._failures = 0

    def record_failure(self, now: float) -> bool:
        """Count a failure; ``True`` when it opened the breaker."""
        if self.state is CircuitState.HALF_OPEN:
            return self._open(now)
        self._failures += 1
        if self.state is CircuitState.CLOSED and self._failures >= self.policy.failure_threshold:
            return self._open(now)
        return False

    def record_neutral(self, now: float) -> None:
        """The request ended in a way that says nothing about the service (e.g. a 404, cancel)."""
        if self.state is CircuitState.HALF_OPEN:
            self._probes = max(0, self._probes - 1)

    def _open(self, now: float) -> bool:
        self.state = CircuitState.OPEN
        self._opened_at = now
        self._failures = 0
        self._successes = 0
        self._probes = 0
        self.opens += 1
        return True


class CircuitBreaker:
    """A breaker around any coroutine function::

        breaker = CircuitBreaker(CircuitBreakerPolicy(failure_threshold=3, recovery_timeout=30))

        @breaker
        async def risky(): ...

        result = await breaker.call(other_coroutine_function, arg)

    While open, calls raise :class:`CircuitOpenError` (with ``retry_after``) without running.
    Which exceptions count as failures is :meth:`CircuitBreakerPolicy.is_failure_exception`.
    """

    def __init__(
        self,
        policy: CircuitBreakerPolicy | None = None,
        *,
        clock: Clock | None = None,
        name: str = "breaker",
    ) -> None:
        self.policy = policy or CircuitBreakerPolicy()
        self.name = name
        self._clock = clock or SystemClock()
        self._state = BreakerState(self.policy)

    @property
    def state(self) -> CircuitState:
        return self._state.state

    @property
    def opens(self) -> int:
        return self._state.opens

    def __call__(self, func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return await self.call(func, *args, **kwargs)

        return wrapper

    async def call(self, func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        now = self._clock.monotonic()
        wait = self._state.check(now)
        if wait is not None:
            raise CircuitOpenError(
                f"circuit {self.name!r} is open; retry in {wait:.1f}s", retry_after=wait
            )
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            if self.policy.is_failure_exception(exc):
                self._state.record_failure(self._clock.monotonic())
            else:
                self._state.record_neutral(self._clock.monotonic())
            raise
        self._state.record_success(self._clock.monotonic())
        return result
