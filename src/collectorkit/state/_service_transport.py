"""The storage-service client's HTTP seam, on :class:`collectorkit.http.APIClient`.

The API client brings the retry loop (exponential backoff on connection failures, timeouts and
429/502/503/504), bearer auth, secret redaction and metrics. This module turns its outcomes into
what a state store reports: 404/409/422 come back as values for the caller to interpret, refused
credentials raise :class:`~collectorkit.AuthenticationError`, and a service that stays
unreachable raises :class:`~collectorkit.StateStoreUnavailableError` naming the URL and reason.
"""

from __future__ import annotations

from typing import Any

import orjson

from collectorkit._clock import Clock
from collectorkit._errors import (
    AuthenticationError,
    CircuitOpenError,
    HTTPError,
    HTTPStatusError,
    StateError,
    StateStoreUnavailableError,
)
from collectorkit.http import APIClient, BearerTokenAuthHandler, RetryPolicy
from collectorkit.state._values import redact_url

__all__ = ["ServiceResponse", "ServiceTransport"]

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_JSON = {"Content-Type": "application/json"}


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

    ``retries`` more attempts after the first, waiting ``backoff`` × 2ⁿ seconds (on ``clock``).
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
        self._base_url = base_url.rstrip("/")
        self._attempts = retries + 1
        auth = BearerTokenAuthHandler(token) if token else None

        def client(attempts: int) -> APIClient:
            policy = RetryPolicy(
                max_attempts=attempts,
                initial_delay=backoff,
                multiplier=2.0,
                jitter=False,
                retryable_status_codes=_RETRY_STATUSES,
            )
            return APIClient(
                base_url=self._base_url,
                auth=auth,
                retry=policy,
                timeout=timeout,
                clock=clock,
                name="storage-service",
            )

        self._client = client(self._attempts)
        self._probe = client(1)

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
        client = self._client if retry else self._probe
        headers = _JSON if content is not None else None
        try:
            response = await client.request(method, path, json=json, data=content, headers=headers)
        except HTTPStatusError as exc:
            return self._status(exc, method, path, self._attempts if retry else 1)
        except (CircuitOpenError, HTTPError) as exc:
            raise self._unavailable(exc, self._attempts if retry else 1) from None
        return ServiceResponse(response.status_code, _decode(response.content))

    def _status(
        self, exc: HTTPStatusError, method: str, path: str, attempts: int
    ) -> ServiceResponse:
        status = exc.status_code or 0
        body = _decode(getattr(exc.response, "content", b""))
        if status in (401, 403):
            raise AuthenticationError(
                f"storage service {redact_url(self._base_url)} refused the credentials "
                f"({status}): set the right token",
                response=exc.response,
            ) from None
        if status in _RETRY_STATUSES:
            raise self._unavailable(exc, attempts) from None
        if status >= 500:
            raise StateError(
                f"storage service {method} {path} failed: HTTP {status} {_detail(body)}".strip()
            ) from None
        return ServiceResponse(status, body)

    def _unavailable(self, exc: HTTPError, attempts: int) -> StateStoreUnavailableError:
        reason = str(exc) or type(exc).__name__
        return StateStoreUnavailableError(
            f"storage service {redact_url(self._base_url)} unreachable after {attempts} "
            f"attempt(s): {reason}; is it running and is STORAGE_SERVICE_URL right?"
        )

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._probe.aclose()


def _decode(content: bytes | None) -> Any:
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
