"""The client's settings: one frozen, validated value an :class:`~collectorkit.APIClient` is built
from, and how an auth description becomes a handler.

``auth`` is an :class:`AuthHandler` or anything with ``to_handler()`` (:class:`AuthSpec`): seed
004's ``AuthConfig`` (in :mod:`collectorkit.compat`) is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from collectorkit._errors import ConfigError
from collectorkit.http._auth import AuthHandler, NoAuth
from collectorkit.http._breaker import CircuitBreakerPolicy
from collectorkit.http._ratelimit import RateLimitPolicy
from collectorkit.http._retry import RetryPolicy
from collectorkit.http._timeouts import DurationInput, parse_duration

__all__ = ["AuthSpec", "ClientSettings", "resolve_auth"]


@runtime_checkable
class AuthSpec(Protocol):
    """A declarative auth description that builds its handler."""

    def to_handler(self) -> AuthHandler: ...


def resolve_auth(auth: AuthHandler | AuthSpec | None) -> AuthHandler:
    """The handler for ``auth`` (a handler, an :class:`AuthSpec`, or ``None`` for no auth)."""
    if auth is None:
        return NoAuth()
    if isinstance(auth, AuthHandler):
        return auth
    if isinstance(auth, AuthSpec):
        return auth.to_handler()
    raise ConfigError(
        f"expected an AuthHandler or an object with to_handler(), got {type(auth).__name__}",
        path="auth",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSettings:
    """Everything an :class:`~collectorkit.APIClient` is built from (its keyword arguments
    override single fields). ``retry=None`` uses the default :class:`RetryPolicy`
    (pass ``RetryPolicy.disabled()`` to turn retries off); ``rate_limit`` and
    ``circuit_breaker`` are off unless given. ``timeout`` is the read timeout and
    ``connect_timeout`` the connect timeout (seconds, ``"30s"`` or a timedelta)."""

    name: str = "api"
    base_url: str | None = None
    auth: AuthHandler | AuthSpec | None = None
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
    max_keepalive_connections: int | None = None
    http2: bool = False
    verify_ssl: bool = True
    follow_redirects: bool = True
    allowed_hosts: Sequence[str] = ()
    diagnostic_mode: bool = False

    def __post_init__(self) -> None:
        label = type(self).__name__  # the seed's subclass reports its own name
        if self.base_url is not None and "://" not in self.base_url:
            raise ConfigError(
                f"must be an absolute http(s) URL, got {self.base_url!r}",
                path=f"{label}.base_url",
            )
        for name in ("max_connections", "max_keepalive_connections"):
            value = getattr(self, name)
            if value is None and name == "max_keepalive_connections":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"must be an integer >= 1, got {value!r}", path=f"{label}.{name}")
        object.__setattr__(self, "timeout", parse_duration(self.timeout, field=f"{label}.timeout"))
        object.__setattr__(
            self,
            "connect_timeout",
            parse_duration(self.connect_timeout, field=f"{label}.connect_timeout"),
        )
        if isinstance(self.allowed_hosts, str):
            raise ConfigError(
                f"must be a list of host names, got {self.allowed_hosts!r}",
                path=f"{label}.allowed_hosts",
            )
