"""Running the storage service: ``serve`` (blocking, for the CLI) and ``run_storage_service``.

A service that listens on anything but loopback requires a bearer token: watermarks steer what a
fleet collects, and an open write endpoint on the network would let anyone move them. A client
must send its request line and headers within ``header_timeout`` seconds (slow-header clients
cannot hold connections open).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from collectorkit import _net as net
from collectorkit._clock import Clock
from collectorkit._instants import DEFAULT_MAX_FUTURE
from collectorkit._sync import run_sync
from collectorkit.service._app import create_app
from collectorkit.service._protocol import DEFAULT_HEADER_TIMEOUT, header_deadline_protocol
from collectorkit.state import open_state_store
from collectorkit.state._values import redact_url
from collectorkit.typing import StateStore

__all__ = [
    "DEFAULT_STORE_URL",
    "check_bind",
    "run_storage_service",
    "serve",
    "serve_async",
]

logger = logging.getLogger("collectorkit.service")

DEFAULT_STORE_URL = "sqlite:///./collectorkit-storage.db"


def check_bind(host: str, token: str | None) -> None:
    """Raise :class:`~collectorkit.ConfigError` for a non-loopback ``host`` without a token
    (:func:`collectorkit._net.check_bind`, the rule the status server follows too)."""
    net.check_bind(
        host,
        token,
        hint="pass a token (or set STORAGE_SERVICE_TOKEN), or bind to 127.0.0.1",
        path="token",
    )


def _server(
    store: StateStore,
    host: str,
    port: int,
    token: str | None,
    *,
    max_body_bytes: int,
    max_future: float,
    header_timeout: float,
    clock: Clock | None,
) -> uvicorn.Server:
    app = create_app(
        store, token, max_body_bytes=max_body_bytes, max_future=max_future, clock=clock
    )
    # a request stuck on a dead store must not hold shutdown forever
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=header_deadline_protocol(header_timeout),
        log_level="warning",
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


async def serve_async(
    host: str = "127.0.0.1",
    port: int = 8000,
    store_url: str | None = None,
    token: str | None = None,
    *,
    max_body_bytes: int = 64 * 1024,
    max_future: float = DEFAULT_MAX_FUTURE,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
) -> None:
    """Open the store, serve until SIGINT/SIGTERM, close the store.

    ``store_url`` defaults to :data:`DEFAULT_STORE_URL` (a SQLite file in the working
    directory); ``token`` defaults to ``STORAGE_SERVICE_TOKEN`` and must be at least 16
    characters. ``max_future`` is how many seconds ahead of now a watermark may lie. The store
    must be reachable: the service refuses to start on an unreachable one rather than silently
    use memory.
    """
    token = token or os.environ.get("STORAGE_SERVICE_TOKEN") or None
    check_bind(host, token)
    net.check_token(token)
    store = await open_state_store(store_url or DEFAULT_STORE_URL)
    logger.info(
        "storage service on http://%s:%s backed by %s (auth %s)",
        host,
        port,
        redact_url(store_url or DEFAULT_STORE_URL),
        "on" if token else "off",
    )
    try:
        server = _server(
            store,
            host,
            port,
            token,
            max_body_bytes=max_body_bytes,
            max_future=max_future,
            header_timeout=header_timeout,
            clock=None,
        )
        await server.serve()
    finally:
        await store.aclose()


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    store_url: str | None = None,
    token: str | None = None,
    *,
    max_body_bytes: int = 64 * 1024,
    max_future: float = DEFAULT_MAX_FUTURE,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
) -> None:
    """Blocking :func:`serve_async`: the entry point of ``collectorkit serve-storage``."""
    run_sync(
        serve_async(
            host,
            port,
            store_url,
            token,
            max_body_bytes=max_body_bytes,
            max_future=max_future,
            header_timeout=header_timeout,
        ),
        async_name="collectorkit.service.serve_async",
    )


@asynccontextmanager
async def run_storage_service(
    store: StateStore,
    *,
    token: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    max_body_bytes: int = 64 * 1024,
    max_future: float = DEFAULT_MAX_FUTURE,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    clock: Clock | None = None,
) -> AsyncIterator[str]:
    """Serve ``store`` in the background of the running loop; yields the base URL.

    Port 0 picks a free port. For tests, benchmarks and embedding; the caller owns ``store``.
    The options are those of :func:`serve_async`.
    """
    check_bind(host, token)
    server = _server(
        store,
        host,
        port,
        token,
        max_body_bytes=max_body_bytes,
        max_future=max_future,
        header_timeout=header_timeout,
        clock=clock,
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("storage service stopped during startup")
        await asyncio.sleep(0.005)
    sockname = server.servers[0].sockets[0].getsockname()
    try:
        yield f"http://{host}:{sockname[1]}"
    finally:
        server.should_exit = True
        await task
