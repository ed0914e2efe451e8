"""Retrying any coroutine function with a :class:`RetryPolicy` (seed 004's manual retry logic;
its ``create_retry_handler`` is in :mod:`collectorkit.compat`)."""

from __future__ import annotations

import functools
import random
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import CircuitOpenError, HTTPStatusError
from collectorkit.http._redact import get_logger
from collectorkit.http._retry import RetryPolicy

__all__ = ["RetryHandler"]

P = ParamSpec("P")
T = TypeVar("T")
_log = get_logger("collectorkit.http")


def _outcome(exc: BaseException) -> tuple[int | None, Any, str | None] | None:
    """``(status, headers, error kind)`` of an exception, or ``None`` when it is not retryable
    by nature (a bug, a cancellation, an open breaker)."""
    if isinstance(exc, CircuitOpenError):
        return None
    if isinstance(exc, HTTPStatusError):
        response = exc.response
        return exc.status_code, getattr(response, "headers", None), None
    if isinstance(exc, TimeoutError):
        return None, None, "timeout"
    if isinstance(exc, ConnectionError | OSError):
        return None, None, "connection"
    return None


class RetryHandler:
    """Calls a coroutine function until it succeeds or the policy gives up::

        handler = RetryHandler(RetryPolicy(max_attempts=6))
        result = await handler.call(fetch_page, cursor)

        @handler
        async def fetch_page(cursor): ...

    Connection errors and timeouts are retried per the policy's switches, our HTTP status errors
    when their status is retryable (honouring ``Retry-After``); anything else is raised at once.
    """

    def __init__(self, policy: RetryPolicy | None = None, *, clock: Clock | None = None) -> None:
        self.policy = policy or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        self.retries = 0
        self._rand = random.Random()

    async def call(self, func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await func(*args, **kwargs)
            except Exception as exc:
                outcome = _outcome(exc)
                if outcome is None:
                    raise
                status, headers, error = outcome
                decision = self.policy.decide(
                    attempt=attempt,
                    status_code=status,
                    headers=headers,
                    error=error,
                    now=self.clock.time(),
                    rand=self._rand.random(),
                )
                if not decision.retry:
                    raise
                self.retries += 1
                _log.warning(
                    "retrying call",
                    function=getattr(func, "__qualname__", repr(func)),
                    attempt=attempt,
                    reason=decision.reason,
                    delay_s=round(decision.delay, 3),
                )
                await self.clock.sleep(decision.delay)

    def __call__(self, func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return await self.call(func, *args, **kwargs)

        return wrapper
