"""Seed 004's spellings, mapped onto the one policy vocabulary of :mod:`collectorkit.http`.

``RetryConfig`` *is* a :class:`~collectorkit.RetryPolicy` (``max_retries=3``: "try up to 3
times", three attempts in all), ``RateLimitConfig`` *is* a
:class:`~collectorkit.RateLimitPolicy` (``max_requests`` per ``window_seconds``),
``CircuitBreakerConfig`` is :class:`~collectorkit.CircuitBreakerPolicy`,
``APIClientConfig`` is :class:`~collectorkit.http.ClientSettings`, ``BaseAPIClient`` is
:class:`~collectorkit.APIClient`, and ``AuthConfig(type=AuthType.X)`` builds one of the auth
handlers (it is an :class:`~collectorkit.http.AuthSpec`). Nothing here has behaviour of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from collectorkit._clock import Clock
from collectorkit._errors import ConfigError
from collectorkit.http import (
    APIClient,
    AuthHandler,
    CircuitBreakerPolicy,
    ClientSettings,
    RateLimitPolicy,
    RetryHandler,
    RetryPolicy,
    RetryStrategy,
    parse_duration,
    register_secret,
)
from collectorkit.http._auth_kinds import build_auth_handler
from collectorkit.http._retry import DEFAULT_RETRYABLE_STATUS_CODES
from collectorkit.http._timeouts import DurationInput

__all__ = [
    "APIClientConfig",
    "AuthConfig",
    "AuthLocation",
    "AuthType",
    "BaseAPIClient",
    "CircuitBreakerConfig",
    "RateLimitConfig",
    "RetryConfig",
    "create_api_key_auth",
    "create_basic_auth",
    "create_bearer_auth",
    "create_oauth2_auth",
    "create_retry_handler",
]

CircuitBreakerConfig = CircuitBreakerPolicy


class RetryConfig(RetryPolicy):
    """Seed 004's spelling of :class:`RetryPolicy`: ``max_retries`` counts every try, as the
    seed's ``max_retries=3  # Try up to 3 times`` says (``1`` disables retries);
    ``backoff_multiplier``, ``retry_status_codes``."""

    __slots__ = ()

    def __init__(
        self,
        *,
        max_retries: int = 3,
        strategy: RetryStrategy | str = RetryStrategy.EXPONENTIAL,
        initial_delay: DurationInput = 1.0,
        max_delay: DurationInput = 60.0,
        backoff_multiplier: float = 2.0,
        jitter: bool = True,
        retry_status_codes: Iterable[int] = DEFAULT_RETRYABLE_STATUS_CODES,
        retry_on_timeout: bool = True,
        **policy: Any,
    ) -> None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 1:
            raise ConfigError(
                f"must be an integer >= 1 (the tries in all; 1 disables retries), "
                f"got {max_retries!r}",
                path="RetryConfig.max_retries",
            )
        options: dict[str, Any] = {
            "max_attempts": max_retries,
            "strategy": strategy,
            "initial_delay": initial_delay,
            "max_delay": max_delay,
            "multiplier": backoff_multiplier,
            "jitter": jitter,
            "retryable_status_codes": retry_status_codes,
            "retry_on_timeout": retry_on_timeout,
        }
        super().__init__(**(options | policy))

    @property
    def max_retries(self) -> int:
        return self.max_attempts

    @property
    def backoff_multiplier(self) -> float:
        return self.multiplier

    @property
    def retry_status_codes(self) -> frozenset[int]:
        return self.retryable_status_codes


_SEED_BACKOFF_FACTOR = 1.5


class RateLimitConfig(RateLimitPolicy):
    """Seed 004's spelling of :class:`RateLimitPolicy`: ``max_requests`` per ``window_seconds``,
    bursts up to ``burst_size`` (default ``max_requests``). Waits come from the token bucket and
    the server's headers; a ``backoff_factor`` other than the seed's 1.5 is refused (retries
    back off by the :class:`RetryConfig`'s ``backoff_multiplier``)."""

    __slots__ = ("backoff_factor", "window_seconds")
    backoff_factor: float
    window_seconds: float

    def __init__(
        self,
        *,
        max_requests: int = 60,
        window_seconds: DurationInput = 60.0,
        burst_size: int | None = None,
        respect_retry_after: bool = True,
        backoff_factor: float = 1.5,
        **policy: Any,
    ) -> None:
        if backoff_factor != _SEED_BACKOFF_FACTOR:
            raise ConfigError(
                f"is not applied by this client, got {backoff_factor!r}: waits after a 429 come "
                "from Retry-After / X-RateLimit-Reset, else from RetryConfig's backoff; set "
                "RetryConfig(backoff_multiplier=...) instead",
                path="RateLimitConfig.backoff_factor",
            )
        window = parse_duration(window_seconds, field="RateLimitConfig.window_seconds")
        if isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1:
            raise ConfigError(
                f"must be an integer >= 1, got {max_requests!r}",
                path="RateLimitConfig.max_requests",
            )
        if window <= 0:
            raise ConfigError(
                f"must be > 0, got {window_seconds!r}", path="RateLimitConfig.window_seconds"
            )
        options: dict[str, Any] = {
            "rate_per_second": max_requests / window,
            "burst": burst_size if burst_size is not None else max_requests,
            "respect_server_limits": respect_retry_after,
        }
        super().__init__(**(options | policy))
        object.__setattr__(self, "window_seconds", window)
        object.__setattr__(self, "backoff_factor", float(backoff_factor))

    @property
    def max_requests(self) -> int:
        return round(self.rate_per_second * self.window_seconds)

    @property
    def burst_size(self) -> int:
        return self.burst

    @property
    def respect_retry_after(self) -> bool:
        return self.respect_server_limits


class AuthType(enum.StrEnum):
    NONE = "none"
    API_KEY = "api_key"
    BEARER = "bearer"
    BASIC = "basic"
    OAUTH2 = "oauth2"
    CUSTOM = "custom"


class AuthLocation(enum.StrEnum):
    HEADER = "header"
    QUERY = "query"
    BODY = "body"


def _secret() -> Any:
    return field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthConfig:
    """Seed 004's declarative auth; :meth:`to_handler` builds the matching handler. Secret
    fields never appear in the repr."""

    type: AuthType = AuthType.NONE
    token: str | None = _secret()
    token_location: AuthLocation = AuthLocation.HEADER
    token_key: str = "Authorization"  # noqa: S105 - a header name, not a secret
    token_prefix: str | None = None
    username: str | None = None
    password: str | None = _secret()
    client_id: str | None = None
    client_secret: str | None = _secret()
    token_url: str | None = None
    refresh_token: str | None = _secret()
    scopes: Sequence[str] = ()
    audience: str | None = None
    custom_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    custom_params: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "type", AuthType(self.type))
            object.__setattr__(self, "token_location", AuthLocation(self.token_location))
        except ValueError as exc:
            raise ConfigError(str(exc), path="AuthConfig") from None
        for value in (self.token, self.password, self.client_secret, self.refresh_token):
            register_secret(value)
        if self.refresh_token is not None:
            raise ConfigError(
                "is not used: OAUTH2 is the client-credentials grant, which fetches a new token "
                "with client_id and client_secret whenever one expires; remove refresh_token",
                path="AuthConfig.refresh_token",
            )

    def to_handler(self) -> AuthHandler:
        """The handler of this kind, built through the auth-kind registry (as YAML ``auth:``)."""
        kind, options = _KINDS[self.type](self)
        return build_auth_handler(kind, **options)


def _need(config: AuthConfig, *names: str) -> list[str]:
    missing = [n for n in names if not getattr(config, n)]
    if missing:
        raise ConfigError(
            f"auth type {config.type.value!r} needs {', '.join(missing)}", path="AuthConfig"
        )
    return [getattr(config, n) for n in names]


_LOCATION_OPTION = {
    AuthLocation.HEADER: "header_name",
    AuthLocation.QUERY: "query_param",
    AuthLocation.BODY: "body_field",
}


_Kind = tuple[str, dict[str, Any]]


def _api_key(config: AuthConfig, prefix: str | None = None) -> _Kind:
    (token,) = _need(config, "token")
    where = _LOCATION_OPTION[config.token_location]
    return "api_key", {"key": token, where: config.token_key, "prefix": prefix}


def _bearer(config: AuthConfig) -> _Kind:
    (token,) = _need(config, "token")
    in_auth_header = (
        config.token_location is AuthLocation.HEADER and config.token_key.lower() == "authorization"
    )
    if in_auth_header and config.token_prefix in (None, "Bearer"):
        return "bearer", {"token": token}
    # a bearer token anywhere else is an API key whose prefix is "Bearer"
    return _api_key(config, config.token_prefix or "Bearer")


def _basic(config: AuthConfig) -> _Kind:
    username, password = _need(config, "username", "password")
    return "basic", {"username": username, "password": password}


def _oauth2(config: AuthConfig) -> _Kind:
    token_url, client_id, client_secret = _need(config, "token_url", "client_id", "client_secret")
    return "oauth2", {
        "token_url": token_url,
        "client_id": client_id,
        "client_secret": client_secret,
        "scope": list(config.scopes) or None,
        "audience": config.audience,
    }


def _custom(config: AuthConfig) -> _Kind:
    return "custom", {"headers": config.custom_headers, "params": config.custom_params}


_KINDS: dict[AuthType, Callable[[AuthConfig], _Kind]] = {
    AuthType.NONE: lambda _config: ("none", {}),
    AuthType.API_KEY: lambda config: _api_key(config, config.token_prefix),
    AuthType.BEARER: _bearer,
    AuthType.BASIC: _basic,
    AuthType.OAUTH2: _oauth2,
    AuthType.CUSTOM: _custom,
}
"""Seed 004's fields → an auth kind of the registry and its options."""


def create_api_key_auth(
    api_key: str,
    header_name: str = "X-API-Key",
    prefix: str | None = None,
    *,
    query_param: str | None = None,
) -> AuthConfig:
    """An API key in ``header_name`` (or in the query as ``query_param``)."""
    if query_param is not None:
        return AuthConfig(
            type=AuthType.API_KEY,
            token=api_key,
            token_location=AuthLocation.QUERY,
            token_key=query_param,
            token_prefix=prefix,
        )
    return AuthConfig(
        type=AuthType.API_KEY, token=api_key, token_key=header_name, token_prefix=prefix
    )


def create_bearer_auth(token: str) -> AuthConfig:
    """``Authorization: Bearer <token>``."""
    return AuthConfig(type=AuthType.BEARER, token=token)


def create_basic_auth(username: str, password: str) -> AuthConfig:
    """HTTP Basic auth."""
    return AuthConfig(type=AuthType.BASIC, username=username, password=password)


def create_oauth2_auth(
    client_id: str,
    client_secret: str,
    token_url: str,
    scopes: Sequence[str] | None = None,
    *,
    audience: str | None = None,
) -> AuthConfig:
    """OAuth2 client credentials against ``token_url``."""
    return AuthConfig(
        type=AuthType.OAUTH2,
        client_id=client_id,
        client_secret=client_secret,
        token_url=token_url,
        scopes=tuple(scopes or ()),
        audience=audience,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class APIClientConfig(ClientSettings):
    """Seed 004's name for :class:`~collectorkit.http.ClientSettings` (``auth`` may be an
    :class:`AuthConfig`); validation errors name ``APIClientConfig.<field>``."""


class BaseAPIClient(APIClient):
    """Seed 004's name for :class:`~collectorkit.APIClient`: subclass it and override
    ``_build_base_url``."""


def create_retry_handler(*, clock: Clock | None = None, **config: Any) -> RetryHandler:
    """A :class:`~collectorkit.RetryHandler` from seed 004's :class:`RetryConfig` keywords
    (``max_retries``, ``strategy``, ``initial_delay``, ...)."""
    return RetryHandler(RetryConfig(**config), clock=clock)
