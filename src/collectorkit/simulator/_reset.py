"""Real TCP resets from inside an ASGI app served by uvicorn.

An ASGI app cannot reach its socket, and uvicorn answers 500 when an app fails before
responding. :class:`ResettableH11Protocol` (uvicorn's h11 protocol plus a registry of live
transports keyed by the connection's addresses) lets :func:`reset_connection` find the socket of
the current request, set ``SO_LINGER`` to zero and abort it: the kernel then sends an RST and the
client sees "connection reset by peer" with no response at all.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import MutableMapping
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["ResettableH11Protocol", "reset_connection"]

_Key = tuple[Any, Any]
_TRANSPORTS: dict[_Key, asyncio.Transport] = {}
_LOCK = threading.Lock()


def _key(server: Any, client: Any) -> _Key:
    return (tuple(server) if server else None, tuple(client) if client else None)


class ResettableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that registers its transport for :func:`reset_connection`.

    It also switches Nagle off on every connection (see ``connection_made``).
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # uvicorn writes headers and body separately; without this, Nagle plus the
            # client's delayed ACK add ~40 ms to every response on a pre-bound socket
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with _LOCK:
            _TRANSPORTS[_key(self.server, self.client)] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        with _LOCK:
            _TRANSPORTS.pop(_key(self.server, self.client), None)
        super().connection_lost(exc)


async def reset_connection(scope: MutableMapping[str, Any]) -> bool:
    """Abort the current request's connection with an RST; False if it cannot be found."""
    with _LOCK:
        transport = _TRANSPORTS.get(_key(scope.get("server"), scope.get("client")))
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # let connection_lost run, so uvicorn knows the client is gone and sends nothing
    for _ in range(3):
        await asyncio.sleep(0)
    return True
