"""The HTTP verbs of a client, async and blocking, all funnelled into its ``request``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from collectorkit._sync import run_sync
from collectorkit.http._models import Response

__all__ = ["HTTPVerbs"]


class HTTPVerbs:
    """``get`` / ``post`` / ``put`` / ``patch`` / ``delete`` and their ``*_sync`` forms, for a
    class that provides ``request`` (and ``aclose``, which the sync forms call after each call
    to release the connection pool of their short-lived event loop)."""

    __slots__ = ()

    if TYPE_CHECKING:
        # what the client class provides (declared loosely here, precisely there)
        request: Callable[..., Coroutine[Any, Any, Response]]
        aclose: Callable[[], Coroutine[Any, Any, None]]

    def get(self, url: str, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        """``await client.get(url, ...)``: :meth:`request` with ``GET``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        """``await client.post(url, ...)``: :meth:`request` with ``POST``."""
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        """``await client.put(url, ...)``: :meth:`request` with ``PUT``."""
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        """``await client.patch(url, ...)``: :meth:`request` with ``PATCH``."""
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        """``await client.delete(url, ...)``: :meth:`request` with ``DELETE``."""
        return self.request("DELETE", url, **kwargs)

    # --- sync entry points (the same async code, on a loop of their own) ---------------------

    def request_sync(self, method: str, url: str, **kwargs: Any) -> Response:
        """Blocking :meth:`request`, for code without an event loop; inside a running loop it
        raises :class:`~collectorkit.SyncInAsyncError`. Each call runs on a fresh event loop, so
        the connection pool this client created is closed after it (a transport passed in must
        be usable from that loop)."""
        return run_sync(self._request_then_release(method, url, **kwargs), async_name="request")

    async def _request_then_release(self, method: str, url: str, **kwargs: Any) -> Response:
        try:
            return await self.request(method, url, **kwargs)
        finally:
            await self.aclose()

    def get_sync(self, url: str, **kwargs: Any) -> Response:
        return self.request_sync("GET", url, **kwargs)

    def post_sync(self, url: str, **kwargs: Any) -> Response:
        return self.request_sync("POST", url, **kwargs)

    def put_sync(self, url: str, **kwargs: Any) -> Response:
        return self.request_sync("PUT", url, **kwargs)

    def patch_sync(self, url: str, **kwargs: Any) -> Response:
        return self.request_sync("PATCH", url, **kwargs)

    def delete_sync(self, url: str, **kwargs: Any) -> Response:
        return self.request_sync("DELETE", url, **kwargs)
