"""collectorkit.compat: the seed documents' spellings, kept so their examples run as written.

Each is a thin name over the library's own concept (``RetryConfig`` is a ``RetryPolicy``,
``AuthConfig`` builds an auth handler, ``IStorageBackend`` becomes a sink), one module per seed.
The package root re-exports them all; new code uses the library's names.
"""

from collectorkit.compat._seed003 import (
    BackendSink,
    CollectedData,
    ICollectionManager,
    IDataSource,
    IProcessingManager,
    IProcessor,
    IStorageBackend,
    IStorageManager,
    MockDataSource,
    MockStorageBackend,
    StorageLocation,
)
from collectorkit.compat._seed004 import (
    APIClientConfig,
    AuthConfig,
    AuthLocation,
    AuthType,
    BaseAPIClient,
    CircuitBreakerConfig,
    RateLimitConfig,
    RetryConfig,
    create_api_key_auth,
    create_basic_auth,
    create_bearer_auth,
    create_oauth2_auth,
    create_retry_handler,
)

__all__ = [
    "APIClientConfig",
    "AuthConfig",
    "AuthLocation",
    "AuthType",
    "BackendSink",
    "BaseAPIClient",
    "CircuitBreakerConfig",
    "CollectedData",
    "ICollectionManager",
    "IDataSource",
    "IProcessingManager",
    "IProcessor",
    "IStorageBackend",
    "IStorageManager",
    "MockDataSource",
    "MockStorageBackend",
    "RateLimitConfig",
    "RetryConfig",
    "StorageLocation",
    "create_api_key_auth",
    "create_basic_auth",
    "create_bearer_auth",
    "create_oauth2_auth",
    "create_retry_handler",
]
