"""Seed 004's configuration spellings, mapped onto the one policy vocabulary.

``RetryConfig`` *is* a :class:`RetryPolicy` (``max_retries=3`` means four attempts),
``RateLimitConfig`` *is* a :class:`RateLimitPolicy` (``max_requests`` per ``window_seconds``),
``CircuitBreakerConfig`` is :class:`CircuitBreakerPolicy`, and ``AuthConfig(type=AuthType.X)``
builds one of the auth handlers. Nothing here has behaviour of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from collectorkit._errors import ConfigError
from collectorkit.http._auth import (
    APIKeyAuthHandler,
    AuthHandler,
    BasicAuthHandler,
    BearerTokenAuthHandler,
    CustomAuthHandler,
    NoAuth,
)
from collectorkit.http._breaker import CircuitBreakerPolicy
from collectorkit.http._oauth2 import OAuth2ClientCredentialsHandler
from collectorkit.http._ratelimit import RateLimitPolicy
from collectorkit.http._redact import register_secret
from collectorkit.http._retry import DEFAULT_RETRYABLE_STATUS_CODES, RetryPolicy, RetryStrategy
from collectorkit.http._timeouts import DurationInput, parse_duration

__all__ = [
    "APIClientConfig",
    "AuthConfig",
    "AuthLocation",
    "AuthType",
    "CircuitBreakerConfig",
    "RateLimitConfig",
    "RetryConfig",
    "create_api_key_auth",
    "create_basic_auth",
    "create_bearer_auth",
    "create_oauth2_auth",
    "resolve_auth",
]

CircuitBreakerConfig = CircuitBreakerPolicy


class RetryConfig(RetryPolicy):
    """Seed 004's spelling of :class:`RetryPolicy`: ``max_retries`` re-sends after the first
    attempt, ``backoff_multiplier``, ``retry_status_codes``."""

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
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigError(
                f"must be an integer >= 0, got {max_retries!r}", path="RetryConfig.max_retries"
            )
        options: dict[str, Any] = {
            "max_attempts": max_retries + 1,
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
        return self.max_attempts - 1

    @property
    def backoff_multiplier(self) -> float:
        return self.multiplier

    @property
    def retry_status_codes(self) -> frozenset[int]:
        return self.retryable_status_codes


class RateLimitConfig(RateLimitPolicy):
    """Seed 004's spelling of :class:`RateLimitPolicy`: ``max_requests`` per ``window_seconds``,
    bursts up to ``burst_size`` (default ``max_requests``). ``backoff_factor`` is accepted for
    compatibility; waits come from the token bucket and the server's headers instead."""

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

    def to_handler(self) -> AuthHandler:
        builder = _BUILDERS[self.type]
        return builder(self)


def _need(config: AuthConfig, *names: str) -> list[str]:
    missing = [n for n in names if not getattr(config, n)]
    if missing:
        raise ConfigError(
            f"auth type {config.type.value!r} needs {', '.join(missing)}", path="AuthConfig"
        )
    return [getattr(config, n) for n in names]


def _api_key(config: AuthConfig) -> AuthHandler:
    (token,) = _need(config, "token")
    if config.token_location is AuthLocation.BODY:
        return APIKeyAuthHandler(token, body_field=config.token_key, prefix=config.token_prefix)
    if config.token_location is AuthLocation.QUERY:
        return APIKeyAuthHandler(token, query_param=config.token_key, prefix=config.token_prefix)
    return APIKeyAuthHandler(token, header_name=config.token_key, prefix=config.token_prefix)


def _bearer(config: AuthConfig) -> AuthHandler:
    (token,) = _need(config, "token")
    in_auth_header = (
        config.token_location is AuthLocation.HEADER and config.token_key.lower() == "authorization"
    )
    if in_auth_header and config.token_prefix in (None, "Bearer"):
        return BearerTokenAuthHandler(token)
    return _api_key(
        AuthConfig(**{**_fields(config), "token_prefix": config.token_prefix or "Bearer"})
    )


def _fields(config: AuthConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in AuthConfig.__dataclass_fields__}


def _basic(config: AuthConfig) -> AuthHandler:
    username, password = _need(config, "username", "password")
    return BasicAuthHandler(username, password)


def _oauth2(config: AuthConfig) -> AuthHandler:
    token_url, client_id, client_secret = _need(config, "token_url", "client_id", "client_secret")
    return OAuth2ClientCredentialsHandler(
        token_url,
        client_id,
        client_secret,
        scope=list(config.scopes) or None,
        audience=config.audience,
    )


def _custom(config: AuthConfig) -> AuthHandler:
    return CustomAuthHandler(headers=config.custom_headers, params=config.custom_params)


_BUILDERS = {
    AuthType.NONE: lambda _config: NoAuth(),
    AuthType.API_KEY: _api_key,
    AuthType.BEARER: _bearer,
    AuthType.BASIC: _basic,
    AuthType.OAUTH2: _oauth2,
    AuthType.CUSTOM: _custom,
}


def resolve_auth(auth: AuthConfig | AuthHandler | None) -> AuthHandler:
    """The handler for ``auth`` (an ``AuthConfig``, a handler, or ``None`` for no auth)."""
    if auth is None:
        return NoAuth()
    if isinstance(auth, AuthConfig):
        return auth.to_handler()
    if isinstance(auth, AuthHandler):
        return auth
    raise ConfigError(
        f"expected an AuthConfig or an AuthHandler, got {type(auth).__name__}", path="auth"
    )


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
class APIClientConfig:
    """Seed 004's client configuration. ``retry=None`` uses the default :class:`RetryPolicy`
    (pass ``RetryPolicy.disabled()`` to turn retries off); ``rate_limit`` and
    ``circuit_breaker`` are off unless given. ``timeout`` is the read timeout and
    ``connect_timeout`` the connect timeout (seconds, ``"30s"`` or a timedelta)."""

    name: str = "api"
    base_url: str | None = None
    auth: AuthConfig | AuthHandler | None = None
    rate_limit: RateLimitPolicy | None = None
    circuit_breaker: CircuitBreakerPolicy | None = None
    retry: RetryPolicy | None = None
    timeout: DurationInput = 30.0
    connect_timeout: DurationInput = 10.0
    default_headers: Mapping[str, str] = field(default_factory=dict)
    log_requests: bool = True
    log_responses: bool = True
    log_response_body: bool = False
    max_connections: int = 100
    max_keepalive_connections: int = 20
    http2: bool = False
    verify_ssl: bool = True
    follow_redirects: bool = True
    allowed_hosts: Sequence[str] = ()
    diagnostic_mode: bool = False

    def __post_init__(self) -> None:
        if self.base_url is not None and "://" not in self.base_url:
            raise ConfigError(
                f"must be an absolute http(s) URL, got {self.base_url!r}",
                path="APIClientConfig.base_url",
            )
        for name in ("max_connections", "max_keepalive_connections"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"must be an integer >= 1, got {value!r}", path=f"APIClientConfig.{name}"
                )
        object.__setattr__(
            self, "timeout", parse_duration(self.timeout, field="APIClientConfig.timeout")
        )
        object.__setattr__(
            self,
            "connect_timeout",
            parse_duration(self.connect_timeout, field="APIClientConfig.connect_timeout"),
        )
        if isinstance(self.allowed_hosts, str):
            raise ConfigError(
                f"must be a list of host names, got {self.allowed_hosts!r}",
                path="APIClientConfig.allowed_hosts",
            )
