"""What the send loop does around each attempt: wait for the rate limit's turn or a server's
pause, sleep within the caller's deadline, keep the circuit breaker's count, and pause the
whole client when a response asks for it. A mixin of :class:`~collectorkit.http.APIClient`,
which owns the state named below."""

from __future__ import annotations

from typing import Any

from collectorkit._clock import Clock
from collectorkit._errors import CircuitOpenError, CollectorTimeoutError
from collectorkit.http._breaker import BreakerState
from collectorkit.http._metrics import ClientMetrics
from collectorkit.http._models import Request, Response
from collectorkit.http._ratelimit import SharedRateLimit, TokenBucket
from collectorkit.http._redact import redact_url
from collectorkit.http._retry import RetryPolicy, backoff_disabled
from collectorkit.http._server_hints import server_pause

__all__ = ["ClientGuards"]


class ClientGuards:
    """The rate-limit, deadline and breaker bookkeeping of the send loop."""

    name: str
    clock: Clock
    metrics: ClientMetrics
    retry_policy: RetryPolicy
    shared_limit: SharedRateLimit | None
    _bucket: TokenBucket
    _breaker: BreakerState | None
    _respect_limits: bool
    _attempt_estimate: float
    _log: Any

    def _refused_wait(self, response: Response) -> str:
        """Why the wait ``response`` asked for was not obeyed ('' when it was, or none)."""
        policy = self.retry_policy
        wait = server_pause(response.status_code, response.headers, self.clock.time())
        if wait is None or wait <= policy.max_server_wait:
            return ""
        return policy.refused_wait(response.headers, wait)

    async def _wait_for_turn(self, deadline: float | None) -> None:
        """Wait for the token just reserved, and for any server-requested pause to end."""
        wait = self._bucket.paused_for(self.clock.monotonic())
        wait = max(wait, self._bucket.wait_for_reserved(self.clock.monotonic()))
        while wait > 0:
            self.metrics.rate_limit_waits += 1
            try:
                await self._sleep_within(wait, deadline, "rate limit wait")
            except CollectorTimeoutError:
                self._bucket.refund(self.clock.monotonic())
                raise
            wait = self._bucket.paused_for(self.clock.monotonic())

    async def _sleep_within(self, delay: float, deadline: float | None, what: str) -> None:
        if deadline is not None:
            remaining = deadline - self.clock.monotonic()
            if delay + self._attempt_estimate > remaining:
                raise CollectorTimeoutError(
                    f"{what} of {delay:.2f}s plus an attempt (~{self._attempt_estimate:.2f}s) "
                    f"does not fit in the {max(remaining, 0):.2f}s left of the time budget"
                )
        if delay > 0:
            await self.clock.sleep(delay)

    def _circuit_open(self, request: Request, wait: float) -> CircuitOpenError:
        """The error for a request the open breaker refused (``wait``: seconds until a trial)."""
        error = CircuitOpenError(
            f"circuit of client {self.name!r} is open; {request.method} "
            f"{redact_url(request.url)} not sent; retry in {wait:.1f}s",
            retry_after=wait,
        )
        error.request = request.redacted()
        return error

    def _record_breaker(self, response: Response | None, error: str | None) -> None:
        breaker = self._breaker
        if breaker is None:
            return
        now = self.clock.monotonic()
        status = None if response is None else response.status_code
        if response is None and error is None:
            breaker.record_neutral(now)
        elif breaker.policy.is_failure(status_code=status, error=error):
            if breaker.record_failure(now):
                self.metrics.circuit_breaker_opens += 1
                self._log.warning(
                    "circuit opened", recovery_timeout_s=breaker.policy.recovery_timeout
                )
        elif error is not None:
            breaker.record_neutral(now)
        else:
            breaker.record_success(now)

    def _observe_limits(self, response: Response) -> None:
        """Count what the response says and pause the whole client when the server asks (the
        send loop calls it only for a 429, a 5xx or an exhausted quota: nothing to do else)."""
        status = response.status_code
        if status == 429:
            self.metrics.rate_limit_hits += 1
        elif status >= 500:
            self.metrics.service_errors += 1
        if not self._respect_limits:
            return
        wait = server_pause(status, response.headers, self.clock.time())
        if wait and wait > self.retry_policy.max_server_wait:
            self._log.warning(
                "not pausing for the server's rate limit",
                status=status,
                reason=self.retry_policy.refused_wait(response.headers, wait),
            )
        elif wait and not backoff_disabled():
            self._bucket.pause_until(self.clock.monotonic() + wait)
            if self.shared_limit is not None:
                self.shared_limit.pause(wait)
            self._log.info(
                "pausing client for the server's rate limit", status=status, pause_s=round(wait, 3)
            )
