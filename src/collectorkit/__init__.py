"""collectorkit: collect events from remote HTTP APIs and deliver them without loss or duplicates.

Every name a seed example imports is available here. Names resolve lazily on first use, so that
``import collectorkit`` (and ``collectorkit --help``) stays fast and loads no heavy dependency.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it. Keep each layer's block together; tests check this table,
# the TYPE_CHECKING imports and __all__ agree.
_EXPORTS: dict[str, str] = {
    # core
    "AuthenticationError": "collectorkit._errors",
    "CircuitOpenError": "collectorkit._errors",
    "ClientRequestError": "collectorkit._errors",
    "CollectorError": "collectorkit._errors",
    "CollectorTimeoutError": "collectorkit._errors",
    "ConfigError": "collectorkit._errors",
    "HTTPError": "collectorkit._errors",
    "HTTPStatusError": "collectorkit._errors",
    "PaginationError": "collectorkit._errors",
    "ProcessingError": "collectorkit._errors",
    "QuotaError": "collectorkit._errors",
    "RequestTimeoutError": "collectorkit._errors",
    "ResponseDecodeError": "collectorkit._errors",
    "ServiceError": "collectorkit._errors",
    "SinkError": "collectorkit._errors",
    "SourceError": "collectorkit._errors",
    "StateConflictError": "collectorkit._errors",
    "StateError": "collectorkit._errors",
    "StateStoreUnavailableError": "collectorkit._errors",
    "SyncInAsyncError": "collectorkit._errors",
    "TransportError": "collectorkit._errors",
    "Envelope": "collectorkit._records",
    "record_key": "collectorkit._records",
    "FakeClock": "collectorkit._clock",
    "SystemClock": "collectorkit._clock",
    # http
    "APIClient": "collectorkit.http",
    "APIClientConfig": "collectorkit.http",
    "APIKeyAuthHandler": "collectorkit.http",
    "AiohttpTransport": "collectorkit.http",
    "AuthConfig": "collectorkit.http",
    "AuthHandler": "collectorkit.http",
    "AuthLocation": "collectorkit.http",
    "AuthType": "collectorkit.http",
    "BaseAPIClient": "collectorkit.http",
    "BasicAuthHandler": "collectorkit.http",
    "BearerTokenAuthHandler": "collectorkit.http",
    "CircuitBreaker": "collectorkit.http",
    "CircuitBreakerConfig": "collectorkit.http",
    "CircuitBreakerPolicy": "collectorkit.http",
    "CircuitState": "collectorkit.http",
    "ClientMetrics": "collectorkit.http",
    "HttpxTransport": "collectorkit.http",
    "OAuth2ClientCredentialsHandler": "collectorkit.http",
    "RateLimitConfig": "collectorkit.http",
    "RateLimitPolicy": "collectorkit.http",
    "Request": "collectorkit.http",
    "Response": "collectorkit.http",
    "RetryConfig": "collectorkit.http",
    "RetryPolicy": "collectorkit.http",
    "RetryStrategy": "collectorkit.http",
    "TimeoutSettings": "collectorkit.http",
    "Transport": "collectorkit.http",
    "create_api_key_auth": "collectorkit.http",
    "create_basic_auth": "collectorkit.http",
    "create_bearer_auth": "collectorkit.http",
    "create_oauth2_auth": "collectorkit.http",
    "get_logger": "collectorkit.http",
    "redact": "collectorkit.http",
    # collect
    # state
    # pipeline
    # sinks
    # sources
}

if TYPE_CHECKING:
    from collectorkit._clock import FakeClock, SystemClock
    from collectorkit._errors import (
        AuthenticationError,
        CircuitOpenError,
        ClientRequestError,
        CollectorError,
        CollectorTimeoutError,
        ConfigError,
        HTTPError,
        HTTPStatusError,
        PaginationError,
        ProcessingError,
        QuotaError,
        RequestTimeoutError,
        ResponseDecodeError,
        ServiceError,
        SinkError,
        SourceError,
        StateConflictError,
        StateError,
        StateStoreUnavailableError,
        SyncInAsyncError,
        TransportError,
    )
    from collectorkit._records import Envelope, record_key
    from collectorkit.http import (
        AiohttpTransport,
        APIClient,
        APIClientConfig,
        APIKeyAuthHandler,
        AuthConfig,
        AuthHandler,
        AuthLocation,
        AuthType,
        BaseAPIClient,
        BasicAuthHandler,
        BearerTokenAuthHandler,
        CircuitBreaker,
        CircuitBreakerConfig,
        CircuitBreakerPolicy,
        CircuitState,
        ClientMetrics,
        HttpxTransport,
        OAuth2ClientCredentialsHandler,
        RateLimitConfig,
        RateLimitPolicy,
        Request,
        Response,
        RetryConfig,
        RetryPolicy,
        RetryStrategy,
        TimeoutSettings,
        Transport,
        create_api_key_auth,
        create_basic_auth,
        create_bearer_auth,
        create_oauth2_auth,
        get_logger,
        redact,
    )

__all__ = [
    "APIClient",
    "APIClientConfig",
    "APIKeyAuthHandler",
    "AiohttpTransport",
    "AuthConfig",
    "AuthHandler",
    "AuthLocation",
    "AuthType",
    "AuthenticationError",
    "BaseAPIClient",
    "BasicAuthHandler",
    "BearerTokenAuthHandler",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitBreakerPolicy",
    "CircuitOpenError",
    "CircuitState",
    "ClientMetrics",
    "ClientRequestError",
    "CollectorError",
    "CollectorTimeoutError",
    "ConfigError",
    "Envelope",
    "FakeClock",
    "HTTPError",
    "HTTPStatusError",
    "HttpxTransport",
    "OAuth2ClientCredentialsHandler",
    "PaginationError",
    "ProcessingError",
    "QuotaError",
    "RateLimitConfig",
    "RateLimitPolicy",
    "Request",
    "RequestTimeoutError",
    "Response",
    "ResponseDecodeError",
    "RetryConfig",
    "RetryPolicy",
    "RetryStrategy",
    "ServiceError",
    "SinkError",
    "SourceError",
    "StateConflictError",
    "StateError",
    "StateStoreUnavailableError",
    "SyncInAsyncError",
    "SystemClock",
    "TimeoutSettings",
    "Transport",
    "TransportError",
    "__version__",
    "create_api_key_auth",
    "create_basic_auth",
    "create_bearer_auth",
    "create_oauth2_auth",
    "get_logger",
    "record_key",
    "redact",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'collectorkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
