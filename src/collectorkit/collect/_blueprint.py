"""The whole description of a collector: :class:`CollectorBlueprint`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from collectorkit._clock import Clock
from collectorkit._durations import parse_duration
from collectorkit._errors import ConfigError
from collectorkit._immutable import explain_assignment
from collectorkit.collect._request import CollectorRequest

if TYPE_CHECKING:
    from collectorkit.http import (
        AuthHandler,
        AuthSpec,
        CircuitBreakerPolicy,
        ClientSettings,
        RateLimitPolicy,
        RetryPolicy,
        TimeoutSettings,
        Transport,
    )
    from collectorkit.http._timeouts import DurationInput

__all__ = ["CollectorBlueprint"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectorBlueprint:
    """Where to collect from, how to authenticate, page, retry and resume — in one object.

    ``retry_policy``, ``rate_limit``, ``circuit_breaker``, ``timeout`` and ``auth_handler`` are the
    :mod:`collectorkit.http` policies, passed unchanged to the :class:`~collectorkit.APIClient`
    that :class:`~collectorkit.CollectorClient` builds (``None`` keeps that client's default);
    ``auth_handler`` may also be an :class:`~collectorkit.http.AuthSpec` (seed 004's
    ``AuthConfig``) and ``timeout`` one duration (the read timeout), as the client accepts.
    ``timeout.execution`` is the time budget of one collection; ``time_margin`` is the least
    time (seconds) kept in hand before it — the collector keeps more once it has seen how long a
    request takes. ``raise_on_timeout=True`` raises :class:`~collectorkit.CollectorTimeoutError`
    (carrying the partial result) instead of returning it when the budget runs out.
    ``allowed_hosts`` are the other hosts a ``next`` link may lead to with credentials attached.
    ``default_strategy`` is ``"sequential"``, ``"concurrent"``, ``"batch"``, ``"stream"`` or a
    strategy object; ``concurrency`` bounds the shards walked at once. ``client_config`` (a
    :class:`~collectorkit.http.ClientSettings`, seed 004's ``APIClientConfig``) reaches the
    client settings not named here: TLS verification, HTTP/2, pool sizes, redirects.
    """

    name: str
    base_url: str
    request: CollectorRequest
    auth_handler: AuthHandler | AuthSpec | None = None
    retry_policy: RetryPolicy | None = None
    rate_limit: RateLimitPolicy | None = None
    circuit_breaker: CircuitBreakerPolicy | None = None
    timeout: TimeoutSettings | DurationInput | None = None
    default_strategy: Any = "sequential"
    concurrency: int = 4
    diagnostic_mode: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    allowed_hosts: Sequence[str] = ()
    transport: Transport | None = None
    clock: Clock | None = None
    raise_on_timeout: bool = False
    time_margin: Any = 1.0
    client_config: ClientSettings | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(
                f"expected a non-empty name, got {self.name!r}", path="blueprint.name"
            )
        if not isinstance(self.base_url, str) or not self.base_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError(
                f"expected an http(s) URL, got {self.base_url!r}", path="blueprint.base_url"
            )
        if not isinstance(self.request, CollectorRequest):
            raise ConfigError(
                f"expected a CollectorRequest, got {type(self.request).__name__}",
                path="blueprint.request",
            )
        concurrency = self.concurrency
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError(
                f"expected an integer >= 1, got {concurrency!r}", path="blueprint.concurrency"
            )
        margin = parse_duration(self.time_margin, field="blueprint.time_margin")
        object.__setattr__(self, "time_margin", margin)
        object.__setattr__(self, "allowed_hosts", tuple(self.allowed_hosts))

    def replace(self, **changes: Any) -> CollectorBlueprint:
        return dataclasses.replace(self, **changes)

    @property
    def execution_budget(self) -> float | None:
        """Seconds one collection may take (``timeout.execution``), or ``None``."""
        value = getattr(self.timeout, "execution", None)
        return float(value) if isinstance(value, int | float) else None


explain_assignment(
    CollectorBlueprint,
    "blueprint",
    hints={"default_strategy": " (or pass strategy=... to one collect_events call)"},
)
