"""The narrow seam between the client and an HTTP library.

A transport sends one request (method, URL, headers, body, timeouts) and returns status, headers
and body bytes. It follows no redirects, applies no auth and retries nothing: all of that lives
above the seam, identical for every transport. A transport translates its library's exceptions to
:class:`~collectorkit.TransportError` / :class:`~collectorkit.RequestTimeoutError` in the one
module that imports the library.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from collectorkit._errors import ConfigError, HTTPError, RequestTimeoutError, TransportError
from collectorkit.http._redact import redact_text, redact_url
from collectorkit.http._timeouts import TimeoutSettings

__all__ = [
    "RawResponse",
    "Transport",
    "check_loop",
    "response_too_large",
    "total_timeout_message",
    "transport_error",
]


class RawResponse(NamedTuple):
    """What a transport hands back: the status, the header pairs as received, the body."""

    status_code: int
    headers: Sequence[tuple[str, str]]
    content: bytes


@runtime_checkable
class Transport(Protocol):
    """Sends one request. Must be safe to call concurrently from one event loop.

    ``timeouts.max_response_size`` bounds the body it reads. The client cuts each ``send`` at
    ``timeouts.total``, unless the transport says it does so itself (a class attribute
    ``enforces_total = True``).
    """

    async def send(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        content: bytes | None,
        timeouts: TimeoutSettings,
    ) -> RawResponse: ...

    async def aclose(self) -> None: ...


def check_loop(bound: asyncio.AbstractEventLoop | None, name: str) -> asyncio.AbstractEventLoop:
    """The running loop, if ``bound`` is it or ``None``; a connection pool belongs to the event
    loop that opened it, so using it from another one is a clear error, not a library crash."""
    running = asyncio.get_running_loop()
    if bound is not None and bound is not running:
        raise ConfigError(
            f"{name} was opened on another event loop; create one transport per event loop "
            "(for sync calls, let the client create and own its transport)",
            path="transport",
        )
    return running


def transport_error(
    method: str, url: str, exc: BaseException, *, timed_out: bool, total: float | None = None
) -> TransportError:
    """An HTTP library's ``exc`` as ours: :class:`~collectorkit.RequestTimeoutError` when it
    ``timed_out`` (at the ``total`` timeout, when given), else
    :class:`~collectorkit.TransportError`; the message names the request, its URL and the
    library's text redacted."""
    if total is not None:
        return RequestTimeoutError(total_timeout_message(method, url, total))
    detail = redact_text(str(exc)) or type(exc).__name__
    what = "timed out" if timed_out else "failed"
    message = f"{method} {redact_url(url)} {what}: {type(exc).__name__}: {detail}"
    return RequestTimeoutError(message) if timed_out else TransportError(message)


def total_timeout_message(method: str, url: str, total: float) -> str:
    return (
        f"{method} {redact_url(url)} timed out: no complete response within the total "
        f"timeout of {total:g}s (timeout.total)"
    )


def response_too_large(
    method: str, url: str, size: int, limit: int, *, announced: bool
) -> HTTPError:
    """The error for a response body over ``timeouts.max_response_size``: not retried (the
    server would send the same page again), and raised before the body is kept in memory."""
    what = f"announces {size} bytes" if announced else f"sent more than {size} bytes"
    return HTTPError(
        f"the response to {method} {redact_url(url)} {what}, over timeout.max_response_size "
        f"({limit} bytes); raise the limit if such pages are expected"
    )
