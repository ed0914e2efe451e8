"""The storage service: a small REST app that keeps watermarks and collector state for a fleet.

Endpoints (all JSON; OpenAPI at ``/openapi.json``, docs at ``/docs``):

- ``GET /api/v1/watermarks/{source_id}`` → 200 record, or 404 before the source's first run
- ``PUT /api/v1/watermarks/{source_id}`` → 201 when created, 200 when updated, with the record
- ``GET /api/v1/watermarks`` → every watermark with its age; ``DELETE …/{source_id}`` forgets one
- ``GET|PUT|DELETE /api/v1/state/{namespace}/{key}``, ``GET /api/v1/state/{namespace}`` → the
  generic state store (compare-and-set with ``if_version``; 409 on conflict)
- ``GET /health`` (never needs a token), ``GET /status``, ``GET /metrics`` (Prometheus)

With a ``token`` (at least 16 characters), every endpoint but ``/health`` and the docs requires
``Authorization: Bearer <token>`` (scheme in any case; compared in constant time). Every error
body has the shape of ``ErrorOut``: ``detail``, and ``field`` or ``errors`` where they apply.
A watermark more than ``max_future`` seconds ahead of now is refused (422): it would pin the
source. If the SQLite file behind the store is deleted or replaced, ``/health``, ``/status`` and
every read and write answer 503 instead of writing into a file that is gone.
"""

import hmac
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import (
    ConfigError,
    StateConflictError,
    StateError,
    StateStoreUnavailableError,
)
from collectorkit._instants import DEFAULT_MAX_FUTURE
from collectorkit._net import check_token
from collectorkit.service._guard import StoreFileGuard
from collectorkit.service._metrics import ServiceMetrics
from collectorkit.service._middleware import BodySizeLimit, RequestMetrics
from collectorkit.service._models import (
    DeleteResult,
    ErrorOut,
    HealthOut,
    StateItemOut,
    StateListOut,
    StatePutIn,
    StatePutOut,
    StatusOut,
    WatermarkIn,
    WatermarkListOut,
    WatermarkOut,
)
from collectorkit.state import Watermark, WatermarkManager
from collectorkit.state._watermarks import WatermarkScan
from collectorkit.typing import StateStore

__all__ = ["create_app"]

_bearer = HTTPBearer(auto_error=False, description="The service's bearer token")
_Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_Responses = dict[int | str, dict[str, Any]]
_ERRORS: _Responses = {
    401: {"model": ErrorOut, "description": "Missing or wrong bearer token"},
    422: {"model": ErrorOut, "description": "A value of the request is invalid"},
    503: {"model": ErrorOut, "description": "The state store is unavailable"},
}


def create_app(
    store: StateStore,
    token: str | None = None,
    *,
    max_body_bytes: int = 64 * 1024,
    clock: Clock | None = None,
    max_future: float = DEFAULT_MAX_FUTURE,
) -> FastAPI:
    """The FastAPI app over ``store``. The caller owns ``store`` and closes it.

    ``token`` must be at least 16 characters (a :class:`~collectorkit.ConfigError` otherwise).
    ``max_body_bytes`` bounds request bodies (413 beyond). ``max_future`` is how many seconds
    ahead of now a watermark may lie. ``clock`` gives the wall-clock time of runs and watermark
    ages (tests pass a ``FakeClock``).
    """
    check_token(token)
    clock = clock or SystemClock()
    manager = WatermarkManager(store, clock=clock, max_future=max_future)
    guard = StoreFileGuard(store)
    metrics = ServiceMetrics()
    app = FastAPI(
        title="collectorkit storage service",
        version="1",
        description=__doc__,
    )
    app.state.store = store
    app.state.metrics = metrics
    _install_error_handlers(app)
    app.include_router(_public_router(guard))
    protected = [Depends(_auth(token))]
    intact = [*protected, Depends(_intact(guard))]
    app.include_router(_watermark_router(manager, clock), dependencies=intact, responses=_ERRORS)
    app.include_router(_state_router(store), dependencies=intact, responses=_ERRORS)
    app.include_router(
        _ops_router(store, manager, guard, metrics, clock),
        dependencies=protected,
        responses={401: _ERRORS[401]},
    )
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app


def _auth(token: str | None) -> Any:
    expected = token.encode() if token else None

    async def require_token(credentials: _Credentials) -> None:
        if expected is None:
            return
        given = credentials.credentials.encode() if credentials else b""
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                401,
                "missing or invalid bearer token",
                headers={"WWW-Authenticate": 'Bearer realm="collectorkit"'},
            )

    return require_token


def _intact(guard: StoreFileGuard) -> Any:
    async def store_file_intact() -> AsyncIterator[None]:
        problem = guard.problem()
        if problem is not None:
            raise StateStoreUnavailableError(problem)
        yield
        guard.problem()  # the request may have created the file: remember which one it is

    return store_file_intact


def _public_router(guard: StoreFileGuard) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/health",
        response_model=HealthOut,
        response_model_exclude_none=True,
        tags=["operations"],
        responses={503: _ERRORS[503]},
    )
    async def health() -> Any:
        """Liveness: the process answers and its SQLite file (if any) is still the one it
        opened. ``/status`` checks the store."""
        problem = guard.problem()
        if problem is not None:
            return JSONResponse({"status": "unhealthy", "detail": problem}, status_code=503)
        return {"status": "healthy"}

    return router


def _watermark_router(manager: WatermarkManager, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/api/v1/watermarks", tags=["watermarks"])
    not_found: dict[int | str, dict[str, Any]] = {
        404: {"description": "No watermark yet (the source's first run)"}
    }

    @router.get("", response_model=WatermarkListOut)
    async def list_watermarks() -> dict[str, Any]:
        """Every readable watermark; unreadable records are skipped and listed in
        ``malformed``."""
        now = clock.time()
        scan = await manager.scan_watermarks()
        items = [_with_age(w, now) for w in scan.watermarks]
        malformed = [{"source_id": k, "reason": v} for k, v in sorted(scan.malformed.items())]
        return {"count": len(items), "watermarks": items, "malformed": malformed}

    @router.get("/{source_id:path}", response_model=WatermarkOut, responses=not_found)
    async def get_watermark(source_id: str) -> dict[str, Any]:
        record = await manager.get_watermark(source_id)
        if record is None:
            raise HTTPException(404, f"no watermark for source {source_id!r} (first run)")
        return record.to_json()

    @router.put(
        "/{source_id:path}", response_model=WatermarkOut, responses={201: {"model": WatermarkOut}}
    )
    async def put_watermark(
        source_id: str, body: WatermarkIn, response: Response
    ) -> dict[str, Any]:
        record, created = await manager.record_run(
            source_id,
            body.timestamp,
            body.status,
            records_collected=body.records_collected,
            error_message=body.error_message,
        )
        response.status_code = 201 if created else 200
        return record.to_json()

    @router.delete("/{source_id:path}", response_model=DeleteResult, responses=not_found)
    async def delete_watermark(source_id: str) -> dict[str, bool]:
        if not await manager.delete_watermark(source_id):
            raise HTTPException(404, f"no watermark for source {source_id!r}")
        return {"deleted": True}

    return router


def _with_age(record: Watermark, now: float) -> dict[str, Any]:
    last = record.last_successful_timestamp
    return {**record.to_json(), "age_seconds": None if last is None else now - last.timestamp()}


def _state_router(store: StateStore) -> APIRouter:
    router = APIRouter(prefix="/api/v1/state", tags=["state"])
    not_found: dict[int | str, dict[str, Any]] = {404: {"description": "No such key"}}

    @router.get("/{namespace}", response_model=StateListOut)
    async def list_state(namespace: str) -> dict[str, Any]:
        items = await store.list(namespace)
        return {"items": {k: _item(v) for k, v in items.items()}}

    @router.get("/{namespace}/{key:path}", response_model=StateItemOut, responses=not_found)
    async def get_state(namespace: str, key: str) -> dict[str, Any]:
        stored = await store.get(namespace, key)
        if stored is None:
            raise HTTPException(404, f"no state at {namespace}/{key}")
        return _item(stored)

    @router.put(
        "/{namespace}/{key:path}",
        response_model=StatePutOut,
        responses={409: {"description": "if_version did not match the stored version"}},
    )
    async def put_state(namespace: str, key: str, body: StatePutIn) -> dict[str, int]:
        version = await store.put(namespace, key, body.value, if_version=body.if_version)
        return {"version": version}

    @router.delete("/{namespace}/{key:path}", response_model=DeleteResult, responses=not_found)
    async def delete_state(namespace: str, key: str) -> dict[str, bool]:
        if not await store.delete(namespace, key):
            raise HTTPException(404, f"no state at {namespace}/{key}")
        return {"deleted": True}

    return router


def _item(stored: Any) -> dict[str, Any]:
    return {"value": stored.value, "version": stored.version, "updated_at": stored.updated_at}


def _ops_router(
    store: StateStore,
    manager: WatermarkManager,
    guard: StoreFileGuard,
    metrics: ServiceMetrics,
    clock: Clock,
) -> APIRouter:
    router = APIRouter(tags=["operations"])
    started = time.monotonic()

    async def summary() -> dict[str, Any]:
        now = clock.time()
        detail = guard.problem()
        scan = WatermarkScan([], {})
        if detail is None:
            try:
                scan = await manager.scan_watermarks()
            except StateError as exc:
                detail = str(exc)
        reachable, records = detail is None, scan.watermarks
        ages = {
            w.source_id: now - w.last_successful_timestamp.timestamp()
            for w in records
            if w.last_successful_timestamp
        }
        return {
            "status": "ok" if reachable and not scan.malformed else "degraded",
            "store": type(store).__name__,
            "store_reachable": reachable,
            "watermarks": len(records),
            "failed_sources": [w.source_id for w in records if w.status == "failed"],
            "malformed_watermarks": sorted(scan.malformed),
            "oldest_watermark_age_seconds": max(ages.values()) if ages else None,
            "uptime_seconds": time.monotonic() - started,
            "detail": detail,
            "ages": ages,
        }

    @router.get("/status", response_model=StatusOut, responses={503: {"model": StatusOut}})
    async def status() -> Any:
        """Store reachability, watermark counts, failed sources and the oldest watermark age."""
        body = await summary()
        del body["ages"]
        return body if body["store_reachable"] else JSONResponse(body, status_code=503)

    @router.get("/metrics", response_class=Response)
    async def prometheus_metrics() -> Response:
        body = await summary()
        metrics.store_up.set(1 if body["store_reachable"] else 0)
        metrics.watermarks.set(body["watermarks"])
        metrics.failed.set(len(body["failed_sources"]))
        metrics.malformed.set(len(body["malformed_watermarks"]))
        metrics.oldest_age.set(body["oldest_watermark_age_seconds"] or 0)
        metrics.source_age.clear()
        for source_id, age in body["ages"].items():
            metrics.source_age.labels(source_id).set(age)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router


def _install_error_handlers(app: FastAPI) -> None:
    def reply(status: int, detail: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"detail": detail, **extra}, status_code=status)

    async def config_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ConfigError)
        return reply(422, str(exc), field=exc.path)

    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        return reply(409, str(exc))

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return reply(503, f"state store unavailable: {exc}")

    async def state_error(request: Request, exc: Exception) -> JSONResponse:
        return reply(500, f"state store error: {exc}")

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return reply(422, f"invalid request: {detail}", errors=errors)

    app.add_exception_handler(ConfigError, config_error)
    app.add_exception_handler(StateConflictError, conflict)
    app.add_exception_handler(StateStoreUnavailableError, unavailable)
    app.add_exception_handler(StateError, state_error)
    app.add_exception_handler(RequestValidationError, invalid)
