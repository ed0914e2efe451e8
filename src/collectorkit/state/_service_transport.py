"""The storage-service client's private HTTP seam (httpx2), with its retry loop.

Kept to one small class so it can move onto ``collectorkit.http.APIClient`` once that lands,
without touching the client above. httpx2 exceptions are translated here and nowhere else.
"""

from __future__ import annotations

from typing import Any

import httpx2
import orjson

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import AuthenticationError, StateError, StateStoreUnavailableError
from collectorkit.state._values import redact_url

__all__ = ["ServiceResponse", "ServiceTransport"]

_RETRY_STATUSES = frozenset({429, 502, 503, 504})


class ServiceResponse:
    """Status and decoded JSON body (``None`` when the body is empty or not JSON)."""

    __slots__ = ("body", "status_code")

    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code = status_code
        self.body = body

    def json(self) -> Any:
        return self.body


class ServiceTransport:
    """Sends JSON requests to ``base_url`` with a bearer token, retrying what is safe to retry.

    Connection failures, timeouts and 429/502/503/504 are retried up to ``retries`` more times
    with exponential backoff (``backoff`` × 2ⁿ seconds, on ``clock``). 401/403 raise
    :class:`~collectorkit.AuthenticationError`; still failing after the retries raises
    :class:`~collectorkit.StateStoreUnavailableError` naming the URL and the last reason.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        timeout: float,
        retries: int,
        backoff: float,
        clock: Clock | None = None,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "collectorkit-state"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._base_url = base_url.rstrip("/")
        self._retries = retries
        self._backoff = backoff
        self._clock: Clock = clock or SystemClock()
        self._client = httpx2.AsyncClient(
            base_url=self._base_url, headers=headers, timeout=timeout, follow_redirects=False
        )

    @property
    def base_url(self) -> str:
        return self._base_url

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        retry: bool = True,
    ) -> ServiceResponse:
        """Send ``json`` (or already-encoded JSON ``content``) and return the response."""
        if json is not None:
            content = orjson.dumps(json)
        attempts = 1 + (self._retries if retry else 0)
        reason = ""
        for attempt in range(attempts):
            if attempt:
                await self._clock.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                response = await self._client.request(
                    method,
                    path,
                    content=content,
                    headers={"Content-Type": "application/json"} if content is not None else None,
                )
            except httpx2.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            result = ServiceResponse(response.status_code, _decode(response.content))
            if response.status_code in (401, 403):
                raise AuthenticationError(
                    f"storage service {redact_url(self._base_url)} refused the credentials "
                    f"({response.status_code}): set the right token",
                    response=result,
                )
            if response.status_code in _RETRY_STATUSES or response.status_code >= 500:
                reason = f"HTTP {response.status_code} {_detail(result.body)}".strip()
                if response.status_code in _RETRY_STATUSES:
                    continue
                raise StateError(f"storage service {method} {path} failed: {reason}")
            return result
        raise StateStoreUnavailableError(
            f"storage service {redact_url(self._base_url)} unreachable after {attempts} "
            f"attempt(s): {reason}; is it running and is STORAGE_SERVICE_URL right?"
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _decode(content: bytes) -> Any:
    if not content:
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def _detail(body: Any) -> str:
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:500]
    return ""
