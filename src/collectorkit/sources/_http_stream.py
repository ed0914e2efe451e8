"""What the SSE and long-poll sources share: one URL read with httpx2, and the status rule.

:class:`HTTPStreamingSource` keeps the URL, headers (credentials masked in logs), query
parameters and the httpx2 client — its own, created on connect and closed by ``aclose``, or one
passed in, which is left to its owner. :func:`status_error` is the one rule for an answer other
than 200, shared with the WebSocket source's refused upgrade.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

import httpx2

from collectorkit._errors import SourceError
from collectorkit.http import redact_url
from collectorkit.sources._stream import (
    FatalSourceError,
    StreamingSource,
    register_header_secrets,
)

__all__ = ["HTTPStreamingSource", "status_error"]

_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Statuses a reconnect may cure (timeouts, rate limits, server errors); others are fatal."""


def status_error(status: int, message: str) -> SourceError:
    """``message`` as a :class:`~collectorkit.SourceError` (reconnect with backoff) when
    ``status`` is worth retrying, else as a :class:`FatalSourceError` (stop at once)."""
    return (SourceError if status in _RETRYABLE_STATUS else FatalSourceError)(message)


class HTTPStreamingSource(StreamingSource):
    """A :class:`StreamingSource` reading ``url`` with httpx2 (see the module docstring).

    A subclass gives the client's timeouts (:meth:`_client_timeout`) and reads with
    :meth:`_require_client`.
    """

    def __init__(
        self,
        url: str,
        *,
        source_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        verify: bool = True,
        client: httpx2.AsyncClient | None = None,
        **options: Any,
    ) -> None:
        super().__init__(source_id=source_id or url, **options)
        self.url = url
        self._headers = dict(headers or {})
        register_header_secrets(self._headers)
        self._params = dict(params or {})
        self._verify = verify
        self._client = client
        self._owns_client = client is None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={redact_url(self.url)!r}, source_id={self.source_id!r})"

    @abstractmethod
    def _client_timeout(self) -> httpx2.Timeout:
        """The timeouts of the client this source creates for itself."""

    def _require_client(self) -> httpx2.AsyncClient:
        if self._client is None:
            raise SourceError(f"{self.source_id}: not connected")
        return self._client

    async def _open(self) -> None:
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=self._client_timeout(), verify=self._verify)
            self._owns_client = True

    async def _close(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
