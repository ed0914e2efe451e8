"""APIClient: the resilient client. One async send loop drives the sans-I/O policies.

The send path, outermost first::

    request() → _prepare_request hook → [per attempt: rate limit wait → breaker check →
    redirects → auth flow (cross-origin rule) → transport] → retry decision → _handle_response

Every wait (rate limit, server pause, backoff) is checked against the caller's ``deadline``
(monotonic seconds on the client's clock): a wait, plus the time an attempt has been taking,
that would not fit raises :class:`~collectorkit.CollectorTimeoutError` instead of sleeping past it.
The waits, the breaker's count and the server-requested pauses are in ``_guards.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Self

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import (
    CollectorError,
    CollectorTimeoutError,
    HTTPError,
    HTTPStatusError,
    RequestTimeoutError,
    TransportError,
)
from collectorkit._lifecycle import SyncClosable
from collectorkit.http._auth import AuthContext, AuthHandler, NoAuth, trusts_origin
from collectorkit.http._breaker import BreakerState, CircuitBreakerPolicy, CircuitState
from collectorkit.http._config import AuthSpec, ClientSettings, resolve_auth
from collectorkit.http._guards import ClientGuards
from collectorkit.http._headers import Headers
from collectorkit.http._metrics import ClientMetrics
from collectorkit.http._models import Request, Response, origin_of
from collectorkit.http._ratelimit import RateLimitPolicy, SharedRateLimit, TokenBucket
from collectorkit.http._redact import (
    get_logger,
    is_sensitive_name,
    redact_url,
    register_secret,
)
from collectorkit.http._retry import RetryDecision, RetryPolicy
from collectorkit.http._server_hints import quota_exhausted
from collectorkit.http._stream import StreamingClient, Transmit
from collectorkit.http._timeouts import DurationInput, TimeoutSettings
from collectorkit.http._transport import Transport, response_too_large
from collectorkit.http._verbs import HTTPVerbs
from collectorkit.http._wire import (
    authority_prefix,
    build_request,
    default_transport,
    encode_body,
    error_kind,
    join_url,
    log_exchange,
    redirect_request,
    status_error,
    within_total,
)

__all__ = ["APIClient"]

_USER_AGENT = "collectorkit/0.1"
_REDIRECT_CODES = frozenset((301, 302, 303, 307, 308))
_Origin = tuple[str, str, int]


class APIClient(ClientGuards, HTTPVerbs, StreamingClient, SyncClosable):
    """The resilient HTTP client: auth, rate limit, circuit breaker, retries, redirects,
    metrics and redacted logs around a pluggable :class:`~collectorkit.http.Transport`.

    Configure with :class:`ClientSettings` (seed 004's ``APIClientConfig``), with keyword
    arguments, or both (the keywords win). Subclass hooks: ``_build_base_url``,
    ``_prepare_request``, ``_handle_response``. Credentials only go to the base URL's origin and
    ``allowed_hosts``. Close with ``await aclose()`` or ``async with``; from sync code with
    ``close()`` or ``with``.
    """

    def __init__(
        self,
        config: ClientSettings | None = None,
        *,
        base_url: str | None = None,
        auth: AuthHandler | AuthSpec | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimitPolicy | None = None,
        circuit_breaker: CircuitBreakerPolicy | None = None,
        timeout: TimeoutSettings | DurationInput | None = None,
        headers: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        clock: Clock | None = None,
        allowed_hosts: Sequence[str] = (),
        diagnostic_mode: bool = False,
        name: str = "api",
    ) -> None:
        overrides: dict[str, Any] = {
            k: v
            for k, v in {
                "base_url": base_url,
                "auth": auth,
                "retry": retry,
                "rate_limit": rate_limit,
                "circuit_breaker": circuit_breaker,
            }.items()
            if v is not None
        }
        if config is None:
            config = ClientSettings(name=name, **overrides)
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        self.name = config.name
        self.auth = resolve_auth(config.auth)
        self.retry_policy = config.retry or RetryPolicy()
        self.timeouts = self._timeouts(config, timeout)
        self.clock: Clock = clock or SystemClock()
        self.allowed_hosts = frozenset(h.lower() for h in (*config.allowed_hosts, *allowed_hosts))
        self.metrics = ClientMetrics()
        self._rate_policy = config.rate_limit
        self._bucket = TokenBucket(config.rate_limit, now=self.clock.monotonic())
        self.shared_limit: SharedRateLimit | None = None
        """A rate limit shared with other processes (``collectorkit worker``), asked before
        every request; the server's pauses are published to it."""
        self._breaker = BreakerState(config.circuit_breaker) if config.circuit_breaker else None
        self._headers = {"User-Agent": _USER_AGENT, "Accept": "application/json"}
        self._headers.update(config.default_headers)
        self._headers.update(headers or {})
        for header, value in self._headers.items():
            if is_sensitive_name(header):
                register_secret(value)
        self._transport = transport
        self._owns_transport = transport is None
        self._base_url: str | None = None
        self._trusted: tuple[str, _Origin, str] | None = None  # (base URL, origin, URL prefix)
        self._attempt_estimate = 0.0
        # precomputed once, so each request pays for what it uses and nothing else
        self._default_header_items = Headers(self._headers).items_dict()
        cls = type(self)
        self._default_prepare = cls._prepare_request is APIClient._prepare_request
        self._default_handle = cls._handle_response is APIClient._handle_response
        self._respect_limits = (
            config.rate_limit.respect_server_limits
            if config.rate_limit
            else self.retry_policy.respect_retry_after
        )
        self._rand = random.Random()
        self._log = get_logger(
            "collectorkit.http",
            diagnostic=diagnostic_mode or config.diagnostic_mode,
            client=self.name,
        )
        # log_requests / log_responses (on by default) write at DEBUG: in diagnostic mode, or
        # whenever the application enables DEBUG for the stdlib logger "collectorkit.http"
        self._wire_log = logging.getLogger("collectorkit.http")
        self._exchange_log = self._log.with_diagnostic(True)
        self._auth_context = AuthContext(send=self._send_token_request, clock=self.clock)
        self.auth.attach(self._auth_context)

    @staticmethod
    def _timeouts(
        config: ClientSettings, timeout: TimeoutSettings | DurationInput | None
    ) -> TimeoutSettings:
        if timeout is not None:
            return TimeoutSettings.coerce(timeout)
        return TimeoutSettings(connect=config.connect_timeout, read=config.timeout)

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self.auth.attach(self._auth_context)  # again, after a close detached it
            self._transport = default_transport(
                http2=self.config.http2,
                max_connections=self.config.max_connections,
                max_keepalive_connections=self.config.max_keepalive_connections,
                verify=self.config.verify_ssl,
            )
        return self._transport

    @property
    def circuit_state(self) -> CircuitState:
        return self._breaker.state if self._breaker else CircuitState.CLOSED

    async def aclose(self) -> None:
        """Close the connection pool (only a transport this client created); the client may
        be used again (it reopens its connections) and keeps its limiter and breaker."""
        if not self._owns_transport:
            return
        self.auth.detach(self._auth_context)  # a shared handler must not reopen this pool
        if self._transport is not None:
            transport, self._transport = self._transport, None
            await transport.aclose()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Self]:
        """``async with client.session() as client:`` — closes the pool on exit."""
        try:
            yield self
        finally:
            await self.aclose()

    @property
    def auth_manager(self) -> AuthHandler | None:
        """The auth handler in use (seed 004's name), ``None`` without auth."""
        return None if isinstance(self.auth, NoAuth) else self.auth

    def get_metrics(self) -> ClientMetrics:
        return self.metrics

    def reset_metrics(self) -> None:
        self.metrics.reset()

    async def health_check(self) -> bool:
        """``True`` when the base URL answers with a status below 500."""
        try:
            await self.request("GET", "")
        except HTTPStatusError as exc:
            return (exc.status_code or 500) < 500
        except CollectorError:
            return False
        return True

    # --- subclass hooks --------------------------------------------------------------------------

    async def _build_base_url(self) -> str:
        """The base URL relative paths resolve against (default: the configured one)."""
        return self.config.base_url or ""

    async def _prepare_request(
        self, method: str, path: str, **kwargs: Any
    ) -> tuple[str, dict[str, str], dict[str, Any], Any, Any]:
        """``(url, headers, params, json, data)`` for one call; override to add headers etc."""
        if self._base_url is None:
            self._base_url = await self._build_base_url()
        url = path if "://" in path else join_url(self._base_url, path)
        headers = {**self._headers, **(kwargs.get("headers") or {})}
        return (
            url,
            headers,
            dict(kwargs.get("params") or {}),
            kwargs.get("json"),
            kwargs.get("data"),
        )

    async def _handle_response(self, response: Response, start_time: float) -> Response:
        """Called with every successful response; override to extract metadata."""
        return response

    # --- the public verbs ------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> Response:
        """Send ``method url`` with every policy applied and return the final response.

        ``url`` is a path under the base URL or an absolute URL. ``deadline`` (monotonic seconds
        on the client's clock) bounds the whole call, waits included. Error statuses that retries
        did not cure raise ``AuthenticationError`` (401/403), ``QuotaError`` (429),
        ``ServiceError`` (5xx) or ``ClientRequestError`` (other 4xx).
        """
        metrics = self.metrics
        metrics.total_requests += 1
        start = 0.0 if self._default_handle else self.clock.monotonic()
        try:
            request = await self._new_request(method, url, params, json, data, headers)
            response = await self._send(request, deadline)
            if not self._default_handle:
                response = await self._handle_response(response, start)
        except BaseException:
            metrics.failed_requests += 1
            raise
        metrics.successful_requests += 1
        return response

    async def _new_request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Any,
        headers: Mapping[str, str] | None,
    ) -> Request:
        """The request one call describes: the default preparation, or the subclass hook's."""
        if self._default_prepare:
            if self._base_url is None:
                self._base_url = await self._build_base_url()
            request = build_request(
                method, url, self._base_url, self._default_header_items, params, json, data
            )
            if headers:
                request.headers.update(headers)
            return request
        prepared = await self._prepare_request(
            method, url, params=params, json=json, data=data, headers=headers
        )
        full_url, all_headers, all_params, json_body, data_body = prepared
        content, content_type = encode_body(json_body, data_body)
        request = Request(method, full_url, headers=all_headers, params=all_params, content=content)
        if content_type and "content-type" not in request.headers:
            request.headers["Content-Type"] = content_type
        return request

    # --- the send loop ---------------------------------------------------------------------------

    async def _send(
        self, request: Request, deadline: float | None, transmit: Transmit | None = None
    ) -> Response:
        """The retry loop around one request; ``transmit`` sends one attempt (default
        :meth:`_transmit`; :meth:`stream` passes one that leaves the body unread)."""
        cached = self._trusted  # _trusted_origin's cache, inline: this is the hot path
        if cached is not None and cached[0] == self._base_url:
            trusted = cached[1]
        else:
            trusted = self._trusted_origin() or request.origin
        retryable = self.retry_policy.retryable_status_codes
        attempt = 0
        while True:
            attempt += 1
            now = self.clock.monotonic()
            if self.shared_limit is not None:  # first: it publishes a pause this client saw
                await self._sleep_within(
                    await self.shared_limit.acquire(), deadline, "shared rate limit wait"
                )
                now = self.clock.monotonic()
            if self._bucket.reserve(now) > 0:
                await self._wait_for_turn(deadline)
                now = self.clock.monotonic()
            breaker = self._breaker
            if breaker is not None:
                wait = breaker.check(now)
                if wait is not None:
                    raise self._circuit_open(request, wait)
            # one attempt; its outcome is recorded (breaker, server limits), and kept when a
            # retry might cure it (inline rather than a helper coroutine: this is the hot path)
            response: Response | None = None
            error: HTTPError | None = None
            try:
                got = await self._exchange(request, trusted, deadline, transmit)
            except TransportError as exc:
                if exc.request is None:
                    exc.request = request.redacted()
                self._record_breaker(None, error_kind(exc))
                error = exc
            except HTTPStatusError as exc:  # raised by an auth flow, e.g. its token endpoint
                self._record_breaker(None, None)
                if exc.status_code not in retryable:
                    raise
                error = exc
            except BaseException:  # cancelled, out of budget: says nothing about the service
                self._record_breaker(None, None)
                raise
            else:
                status = got.status_code
                if breaker is None:
                    pass
                elif status in breaker.policy.failure_status_codes:
                    self._record_breaker(got, None)
                else:  # what _record_breaker does for a success, without the calls
                    breaker.record_success(now)
                if status == 429 or status >= 500 or quota_exhausted(got.headers):
                    self._observe_limits(got)
                if status not in retryable and not (
                    status == 403 and self.retry_policy.is_throttle(status, got.headers)
                ):
                    if status < 400:
                        return got
                    return self._final(request, got, None, attempt, deadline)
                response = got
            decision = self._decide(attempt, response, error)
            if not decision.retry:
                return self._final(request, response, error, attempt, deadline)
            self.metrics.total_retries += 1
            self._log.warning(
                "retrying request",
                method=request.method,
                url=request.full_url,
                attempt=attempt,
                reason=decision.reason,
                delay_s=round(decision.delay, 3),
            )
            await self._sleep_within(decision.delay, deadline, f"retry after {decision.reason}")

    def _decide(
        self, attempt: int, response: Response | None, error: HTTPError | None
    ) -> RetryDecision:
        status: int | None = None
        headers: Mapping[str, str] | None = None
        if response is not None:
            status, headers = response.status_code, response.headers
        elif isinstance(error, HTTPStatusError):
            status, headers = error.status_code, getattr(error.response, "headers", None)
        return self.retry_policy.decide(
            attempt=attempt,
            status_code=status,
            headers=headers,
            error=error_kind(error) if isinstance(error, TransportError) else None,
            now=self.clock.time(),
            rand=self._rand.random(),
        )

    def _final(
        self,
        request: Request,
        response: Response | None,
        error: HTTPError | None,
        attempts: int,
        deadline: float | None,
    ) -> Response:
        if error is not None:
            if deadline is not None and self.clock.monotonic() >= deadline:
                raise CollectorTimeoutError(f"time budget ran out: {error}") from error
            raise error
        assert response is not None
        if response.status_code < 400:
            return response
        raise status_error(request, response, attempts, self._refused_wait(response))

    async def _exchange(
        self, request: Request, trusted: _Origin, deadline: float | None, transmit: Transmit | None
    ) -> Response:
        """One attempt: the auth flow, then redirects (each hop judged for credentials)."""
        transmit = transmit or self._transmit
        send: Callable[[Request], Awaitable[Response]] = (
            transmit if deadline is None else functools.partial(transmit, deadline=deadline)
        )
        auth = self.auth
        first = request.copy()
        cached = self._trusted  # _trusts_url's shortcut, inline
        if cached is not None and cached[1] == trusted and first.url.startswith(cached[2]):
            trust = True
        else:
            trust = self._trusts_url(first.url, trusted)
        response = await auth.authenticate(first, trusted=trust, send=send)
        if not self.config.follow_redirects or response.status_code not in _REDIRECT_CODES:
            return response
        current = request
        for _ in range(10):
            if not response.is_redirect:
                return response
            current = redirect_request(current, response)
            trust = self._trusts_url(current.url, trusted)
            response = await auth.authenticate(current.copy(), trusted=trust, send=send)
        raise TransportError(
            f"too many redirects from {redact_url(request.url)}", request=request.redacted()
        )

    def _trusted_origin(self) -> _Origin | None:
        """The base URL's origin (cached per base URL), ``None`` without a base URL."""
        base = self._base_url
        if not base:
            return None
        cached = self._trusted
        if cached is None or cached[0] != base:
            cached = self._trusted = (base, origin_of(base), authority_prefix(base))
        return cached[1]

    def _trusts_url(self, url: str, trusted: _Origin) -> bool:
        """:meth:`_trusts` for a URL, answered from its text when it starts with the base URL's
        ``scheme://authority/`` (then its origin is the base URL's, with no parsing)."""
        cached = self._trusted
        if cached is not None and cached[1] == trusted and url.startswith(cached[2]):
            return True
        return self._trusts(origin_of(url), trusted)

    def _trusts(self, origin: _Origin, trusted: _Origin) -> bool:
        return trusts_origin(origin, trusted, self.allowed_hosts)

    def _timeouts_within(self, request: Request, deadline: float) -> TimeoutSettings:
        """The timeouts of one attempt, capped to what is left before ``deadline``."""
        remaining = deadline - self.clock.monotonic()
        if remaining <= 0:
            raise CollectorTimeoutError(
                f"time budget ran out before {request.method} {redact_url(request.url)}"
            )
        return self.timeouts.capped(remaining)

    async def _transmit(self, request: Request, deadline: float | None = None) -> Response:
        timeouts = self.timeouts if deadline is None else self._timeouts_within(request, deadline)
        url = request.url if not request.params else request.full_url
        clock = self.clock
        started, perf = clock.monotonic(), time.perf_counter()
        transport = self._transport or self.transport
        try:
            sent = transport.send(
                request.method, url, request.headers.pairs(), request.content, timeouts
            )
            if timeouts.total is None or getattr(transport, "enforces_total", False):
                raw = await sent
            else:
                raw = await within_total(sent, request, timeouts)
        except RequestTimeoutError:
            self.metrics.timeouts += 1
            raise
        finally:
            took = clock.monotonic() - started
            estimate = self._attempt_estimate
            self._attempt_estimate = 0.8 * estimate + 0.2 * took if estimate else took
        if len(raw.content) > timeouts.max_response_size:  # a transport that read it all
            limit = timeouts.max_response_size
            raise response_too_large(request.method, url, limit, limit, announced=False)
        elapsed_ms = (time.perf_counter() - perf) * 1000.0
        self.metrics.observe_response_time(elapsed_ms)
        if raw.status_code in (401, 403):
            self.metrics.auth_errors += 1
        response = Response(
            raw.status_code,
            headers=raw.headers,
            content=raw.content,
            url=url,
            elapsed_ms=elapsed_ms,
            request=request,
        )
        if self._log.diagnostic or self._wire_log.isEnabledFor(logging.DEBUG):
            log_exchange(self._exchange_log, self.config, request, response)
        return response

    def _send_token_request(self, request: Request) -> Coroutine[Any, Any, Response]:
        return self._transmit(request, None)
