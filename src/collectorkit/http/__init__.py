"""collectorkit.http: the resilient HTTP client every other layer stands on.

Policies (:class:`RetryPolicy`, :class:`RateLimitPolicy`, :class:`CircuitBreakerPolicy`,
:class:`TimeoutSettings`) are frozen, validated values that decide; :class:`APIClient` drives
them in one async send loop over a narrow :class:`Transport` seam. Auth handlers are generator
flows; secrets are redacted from every log line, error message and repr.
"""

from typing import TYPE_CHECKING

from collectorkit.http._aiohttp_transport import AiohttpTransport
from collectorkit.http._auth import (
    APIKeyAuthHandler,
    AuthContext,
    AuthHandler,
    BasicAuthHandler,
    BearerTokenAuthHandler,
    CustomAuthHandler,
    NoAuth,
)
from collectorkit.http._breaker import (
    BreakerState,
    CircuitBreaker,
    CircuitBreakerPolicy,
    CircuitState,
)
from collectorkit.http._client import APIClient
from collectorkit.http._config import AuthSpec, ClientSettings, resolve_auth
from collectorkit.http._headers import Headers
from collectorkit.http._metrics import ClientMetrics
from collectorkit.http._models import Request, Response
from collectorkit.http._oauth2 import MemoryTokenCache, OAuth2ClientCredentialsHandler
from collectorkit.http._ratelimit import RateLimitPolicy, SharedRateLimit, TokenBucket

if TYPE_CHECKING:
    from collectorkit.http._httpx_transport import HttpxTransport

from collectorkit.http._redact import (
    CollectorLogger,
    get_logger,
    is_sensitive_name,
    redact,
    redact_url,
    register_secret,
)
from collectorkit.http._retry import RetryDecision, RetryPolicy, RetryStrategy
from collectorkit.http._retry_handler import RetryHandler
from collectorkit.http._server_hints import parse_retry_after, server_wait
from collectorkit.http._stream import RawStream, StreamedResponse, StreamingTransport
from collectorkit.http._timeouts import TimeoutSettings, parse_duration
from collectorkit.http._transport import RawResponse, Transport
from collectorkit.http._wire import default_transport

__all__ = [
    "APIClient",
    "APIKeyAuthHandler",
    "AiohttpTransport",
    "AuthContext",
    "AuthHandler",
    "AuthSpec",
    "BasicAuthHandler",
    "BearerTokenAuthHandler",
    "BreakerState",
    "CircuitBreaker",
    "CircuitBreakerPolicy",
    "CircuitState",
    "ClientMetrics",
    "ClientSettings",
    "CollectorLogger",
    "CustomAuthHandler",
    "Headers",
    "HttpxTransport",
    "MemoryTokenCache",
    "NoAuth",
    "OAuth2ClientCredentialsHandler",
    "RateLimitPolicy",
    "RawResponse",
    "RawStream",
    "Request",
    "Response",
    "RetryDecision",
    "RetryHandler",
    "RetryPolicy",
    "RetryStrategy",
    "SharedRateLimit",
    "StreamedResponse",
    "StreamingTransport",
    "TimeoutSettings",
    "TokenBucket",
    "Transport",
    "default_transport",
    "get_logger",
    "is_sensitive_name",
    "parse_duration",
    "parse_retry_after",
    "redact",
    "redact_url",
    "register_secret",
    "resolve_auth",
    "server_wait",
]


def __getattr__(name: str) -> object:
    # httpx2 (HTTP/2) loads when asked for: the default transport is aiohttp, and every
    # object an import leaves behind is walked by each full pass of the cyclic GC
    if name == "HttpxTransport":
        from collectorkit.http._httpx_transport import HttpxTransport

        return HttpxTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
