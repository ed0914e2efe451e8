"""The status server: ``/health``, ``/ready``, ``/metrics``, ``/status`` and the dashboard.

A small Starlette app served by uvicorn inside the daemon's event loop. ``/health`` (liveness)
and the dashboard page (static HTML that holds no data) are open; every other route requires
``Authorization: Bearer <token>`` whenever a token is set, and a token is mandatory when the server
listens on anything but loopback. Tokens are compared in constant time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import ConfigError
from collectorkit._net import STATUS_TOKEN_HINT, check_bind, check_token
from collectorkit.daemon._dashboard import DASHBOARD_HTML
from collectorkit.daemon._metrics import RuntimeMetrics, render_prometheus

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["StatusServer", "StatusSettings", "build_status_app"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusSettings:
    """Where the status server listens (``port=0``: any free port) and its bearer token."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_bind(self.host, self.token, hint=STATUS_TOKEN_HINT, path="status.token")
        check_token(self.token, path="status.token")


def build_status_app(
    metrics: RuntimeMetrics, *, token: str | None = None, clock: Clock | None = None
) -> Starlette:
    """The ASGI app over ``metrics``."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    time = (clock or SystemClock()).time
    expected = token.encode() if token else None

    def guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if expected is not None:
                scheme, _, given = request.headers.get("authorization", "").partition(" ")
                # the scheme is case-insensitive (RFC 7235); the token is compared in constant time
                if scheme.lower() != "bearer" or not hmac.compare_digest(
                    given.strip().encode(), expected
                ):
                    return JSONResponse(
                        {"detail": "missing or wrong bearer token"},
                        status_code=401,
                        headers={"WWW-Authenticate": "Bearer"},
                    )
            return handler(request)

        return endpoint

    def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def health_endpoint(request: Request) -> Response:
        return health(request)

    def ready(_: Request) -> Response:
        ok = metrics.ready and not metrics.stopping
        body = {"ready": ok, "stopping": metrics.stopping}
        return JSONResponse(body, status_code=200 if ok else 503)

    def status(_: Request) -> Response:
        return JSONResponse(metrics.snapshot(time()))

    def prom(_: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(render_prometheus(metrics.snapshot(time())), media_type=CONTENT_TYPE_LATEST)

    async def dashboard(_: Request) -> Response:
        return HTMLResponse(DASHBOARD_HTML, headers={"Cache-Control": "no-store"})

    return Starlette(
        routes=[
            Route("/health", health_endpoint),
            Route("/ready", guarded(ready)),
            Route("/status", guarded(status)),
            Route("/metrics", guarded(prom)),
            Route("/", dashboard),
            Route("/dashboard", dashboard),
        ]
    )


class StatusServer:
    """Runs the status app on uvicorn as a task of the current event loop.

    uvicorn's own signal handling is switched off: the daemon owns SIGINT/SIGTERM.
    """

    def __init__(
        self,
        metrics: RuntimeMetrics,
        settings: StatusSettings,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._app = build_status_app(metrics, token=settings.token, clock=clock)
        self._settings = settings
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        host = self._settings.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    async def start(self) -> None:
        """Listen (raises :class:`ConfigError` naming the address when it cannot) and serve."""
        import uvicorn

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                yield

        sock = self._listen()
        config = uvicorn.Config(
            self._app,
            host=self._settings.host,
            port=self._settings.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        server = _Server(config)
        self._server, self._socket = server, sock
        self.port = int(sock.getsockname()[1])
        self._task = asyncio.create_task(
            server.serve(sockets=[sock]), name="collectorkit-status-server"
        )
        while not server.started:
            if self._task.done():
                await self.stop()
                raise ConfigError(f"the status server did not start on {self.url}", path="status")
            await asyncio.sleep(0.01)

    def _listen(self) -> socket.socket:
        host, port = self._settings.host, self._settings.port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                "choose another status.port or --status-port (0: any free port)",
                path="status.port",
            ) from None
        return sock

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError, SystemExit):
                await self._task
        if self._socket is not None:
            self._socket.close()
        self._server = self._task = self._socket = None
