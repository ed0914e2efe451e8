"""The storage service's HTTP client: a state store and a watermark client in one.

It speaks the service's REST API (``collectorkit.service``): ``/api/v1/watermarks/…`` for the
seed's ``get_watermark`` / ``update_watermark`` / ``health_check`` and ``/api/v1/state/…`` for
the generic :class:`~collectorkit.typing.StateStore` methods, with compare-and-set carried as
``if_version`` and a conflict answered ``409``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from collectorkit._clock import Clock
from collectorkit._errors import (
    CollectorError,
    ConfigError,
    StateConflictError,
    StateError,
)
from collectorkit._lifecycle import AsyncResource
from collectorkit.state._service_transport import ServiceResponse, ServiceTransport
from collectorkit.state._timestamps import format_timestamp
from collectorkit.state._values import check_names, check_put, redact_url
from collectorkit.state._watermarks import WATERMARK_NAMESPACE, Watermark
from collectorkit.typing import StoredValue

__all__ = ["StorageServiceClient"]


def _q(text: str) -> str:
    return quote(text, safe="")


class StorageServiceClient(AsyncResource):
    """Client of a collectorkit storage service at ``base_url`` (``http://storage:8000``).

    ``token`` is sent as a bearer token; ``timeout`` bounds each request in seconds. Failed
    connections, timeouts and 429/502/503/504 are retried ``retries`` times with exponential
    backoff from ``backoff`` seconds; then :class:`~collectorkit.StateStoreUnavailableError` says
    which service could not be reached and why. Use ``async with`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30,
        *,
        retries: int = 3,
        backoff: float = 0.2,
        clock: Clock | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"must start with http:// or https://, got {redact_url(base_url)!r}",
                path="base_url",
            )
        if timeout <= 0:
            raise ConfigError(f"must be > 0, got {timeout!r}", path="timeout")
        self._http = ServiceTransport(
            base_url, token=token, timeout=timeout, retries=retries, backoff=backoff, clock=clock
        )

    def __repr__(self) -> str:
        return f"StorageServiceClient({redact_url(self._http.base_url)!r})"

    # --- the seed's watermark API ----------------------------------------------------------

    async def get_watermark(self, source_id: str) -> Watermark | None:
        """The source's watermark, or ``None`` on its first run (the service answers 404)."""
        check_names(WATERMARK_NAMESPACE, source_id)
        body = await self._found("GET", f"/api/v1/watermarks/{_q(source_id)}", "get_watermark")
        return None if body is None else Watermark.from_json(body)

    async def update_watermark(
        self,
        source_id: str,
        timestamp: Any = None,
        status: str = "success",
        error_message: str | None = None,
        *,
        records_collected: int = 0,
    ) -> Watermark:
        """Record one run on the service; it applies the rules of ``WatermarkManager``."""
        check_names(WATERMARK_NAMESPACE, source_id)
        if isinstance(timestamp, datetime):
            timestamp = format_timestamp(timestamp)
        body = {
            "timestamp": timestamp,
            "status": status,
            "error_message": error_message,
            "records_collected": records_collected,
        }
        response = await self._http.request("PUT", f"/api/v1/watermarks/{_q(source_id)}", json=body)
        return Watermark.from_json(self._ok(response, "update_watermark"))

    async def delete_watermark(self, source_id: str) -> bool:
        check_names(WATERMARK_NAMESPACE, source_id)
        path = f"/api/v1/watermarks/{_q(source_id)}"
        return await self._found("DELETE", path, "delete_watermark") is not None

    async def list_watermarks(self) -> list[Watermark]:
        body = self._ok(await self._http.request("GET", "/api/v1/watermarks"), "list_watermarks")
        return [Watermark.from_json(item) for item in body["watermarks"]]

    async def health_check(self) -> bool:
        """``True`` when the service answers ``/health`` with 200; never raises (one attempt)."""
        try:
            response = await self._http.request("GET", "/health", retry=False)
        except CollectorError:
            return False
        return response.status_code == 200

    # --- StateStore ------------------------------------------------------------------------

    async def get(self, namespace: str, key: str) -> StoredValue | None:
        check_names(namespace, key)
        body = await self._found("GET", f"/api/v1/state/{namespace}/{_q(key)}", "get")
        if body is None:
            return None
        return StoredValue(body["value"], int(body["version"]), float(body["updated_at"]))

    async def put(
        self,
        namespace: str,
        key: str,
        value: Mapping[str, Any],
        *,
        if_version: int | None = None,
    ) -> int:
        text = check_put(namespace, key, value, if_version)
        condition = "null" if if_version is None else str(if_version)
        body = f'{{"value":{text},"if_version":{condition}}}'
        response = await self._http.request(
            "PUT", f"/api/v1/state/{namespace}/{_q(key)}", content=body.encode()
        )
        if response.status_code == 409:
            raise StateConflictError(str((response.body or {}).get("detail", "state conflict")))
        return int(self._ok(response, "put")["version"])

    async def delete(self, namespace: str, key: str) -> bool:
        check_names(namespace, key)
        path = f"/api/v1/state/{namespace}/{_q(key)}"
        return await self._found("DELETE", path, "delete") is not None

    async def list(self, namespace: str) -> dict[str, StoredValue]:
        check_names(namespace)
        body = self._ok(await self._http.request("GET", f"/api/v1/state/{namespace}"), "list")
        return {
            key: StoredValue(item["value"], int(item["version"]), float(item["updated_at"]))
            for key, item in body["items"].items()
        }

    async def ping(self) -> None:
        """Check the service, its token and its store: ``GET /status`` must answer 200.

        Raises :class:`~collectorkit.StateStoreUnavailableError` when the service or its store
        cannot be reached and :class:`~collectorkit.AuthenticationError` for a refused token.
        """
        self._ok(await self._http.request("GET", "/status"), "status")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _found(self, method: str, path: str, operation: str) -> Any:
        """The body of the answer to ``method path``; ``None`` when the service answers 404
        (nothing stored there)."""
        response = await self._http.request(method, path)
        return None if response.status_code == 404 else self._ok(response, operation)

    def _ok(self, response: ServiceResponse, operation: str) -> Any:
        if 200 <= response.status_code < 300 and isinstance(response.body, dict):
            return response.body
        detail = response.body.get("detail") if isinstance(response.body, dict) else None
        raise StateError(
            f"storage service {operation} failed with HTTP {response.status_code}"
            + (f": {detail}" if detail else "")
        )
