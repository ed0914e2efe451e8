"""What the SSE and long-poll sources share: reads of one URL through ``collectorkit.http``, and
the status rule.

:class:`HTTPStreamingSource` keeps the URL, headers (credentials masked in logs), query
parameters and an :class:`~collectorkit.APIClient` — its own, made from the source's ``auth``
handler, timeouts and ``transport`` and closed by ``aclose``, or one passed in, which is left to
its owner. Every read goes through that client: the auth flow (a 401 refreshes the credentials
once and resends), the cross-origin rule on redirects, timeouts, redacted errors and
:attr:`~HTTPStreamingSource.metrics`. The client makes one attempt per read: reconnecting with
backoff is the source's :class:`~collectorkit.sources.ReconnectPolicy`.
:func:`status_error` is the one rule for an answer other than 200, shared with the WebSocket
source's refused upgrade.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Unpack

from collectorkit._errors import HTTPError, HTTPStatusError, SourceError
from collectorkit.http import (
    APIClient,
    AuthHandler,
    ClientMetrics,
    ClientSettings,
    RetryPolicy,
    StreamedResponse,
    TimeoutSettings,
    Transport,
    redact_url,
)
from collectorkit.http._retry import DEFAULT_RETRYABLE_STATUS_CODES
from collectorkit.sources._stream import (
    FatalSourceError,
    StreamingSource,
    StreamOptions,
    register_header_secrets,
)

__all__ = ["HTTPStreamOptions", "HTTPStreamingSource", "status_error"]

_RETRYABLE_STATUS = DEFAULT_RETRYABLE_STATUS_CODES
"""Statuses a reconnect may cure (the retry policy's default set); others are fatal."""


def status_error(status: int, message: str) -> SourceError:
    """``message`` as a :class:`~collectorkit.SourceError` (reconnect with backoff) when
    ``status`` is worth retrying, else as a :class:`FatalSourceError` (stop at once)."""
    return (SourceError if status in _RETRYABLE_STATUS else FatalSourceError)(message)


class HTTPStreamOptions(StreamOptions, total=False):
    """The keyword arguments of :class:`HTTPStreamingSource` that its subclasses pass on."""

    source_id: str | None
    headers: Mapping[str, str] | None
    params: Mapping[str, Any] | None
    auth: AuthHandler | None
    verify: bool
    transport: Transport | None
    client: APIClient | None


class HTTPStreamingSource(StreamingSource):
    """A :class:`StreamingSource` reading ``url`` through an APIClient (see the module docstring).

    A subclass gives the client's timeouts (:meth:`_client_timeouts`) and reads with
    :meth:`_get`.
    """

    def __init__(
        self,
        url: str,
        *,
        source_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        auth: AuthHandler | None = None,
        verify: bool = True,
        transport: Transport | None = None,
        client: APIClient | None = None,
        **options: Unpack[StreamOptions],
    ) -> None:
        super().__init__(source_id=source_id or url, **options)
        self.url = url
        self._headers = dict(headers or {})
        register_header_secrets(self._headers)
        self._params = dict(params or {})
        self.auth = auth
        self._verify = verify
        self._transport = transport
        self._client = client
        self._owns_client = client is None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={redact_url(self.url)!r}, source_id={self.source_id!r})"

    @property
    def _where(self) -> str:
        """The source and its request, for error messages (the URL redacted)."""
        return f"{self.source_id}: GET {redact_url(self.url)}"

    @abstractmethod
    def _client_timeouts(self) -> TimeoutSettings:
        """The timeouts of the client this source creates for itself (read: per chunk)."""

    @property
    def client(self) -> APIClient:
        """The client every read goes through (created on first use unless one was given)."""
        if self._client is None:
            self._client = APIClient(
                ClientSettings(name=f"stream {self.source_id}", verify_ssl=self._verify),
                base_url=self.url,
                auth=self.auth,
                retry=RetryPolicy(max_attempts=1),  # the reconnect policy retries
                timeout=self._client_timeouts(),
                transport=self._transport,
                clock=self.clock,
            )
        return self._client

    @property
    def metrics(self) -> ClientMetrics:
        """Requests, failures and response times of this source's reads."""
        return self.client.metrics

    @asynccontextmanager
    async def _get(
        self, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> AsyncIterator[StreamedResponse]:
        """``GET url`` through the client; an answer other than 200 and the client's failures
        become source errors (the status rule)."""
        where = self._where
        try:
            async with self.client.stream(
                "GET", self.url, params=params, headers=headers
            ) as response:
                if response.status_code != 200:
                    status = response.status_code
                    raise status_error(status, f"{where} answered {status}")
                yield response
        except HTTPStatusError as exc:
            status = exc.status_code or 0
            raise status_error(status, f"{where} answered {status}") from exc
        except HTTPError as exc:  # redacted by the client
            raise SourceError(f"{where}: {exc}") from exc

    async def _close(self) -> None:
        # the client (and its metrics) stays: its pool reopens on the next connect
        if self._owns_client and self._client is not None:
            await self._client.aclose()
