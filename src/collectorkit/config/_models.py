"""The whole configuration file: state store, sinks, sources, status server, defaults."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from collectorkit._net import STATUS_TOKEN_HINT, check_bind, check_token
from collectorkit._redact import redact, url_secrets
from collectorkit.config._connectors import connectors_from, expand_connector
from collectorkit.config._registry import check_name
from collectorkit.config._request import AuthSpec, StrictModel
from collectorkit.config._source import (
    CircuitBreaker,
    ProcessorStep,
    RateLimit,
    Retry,
    SourceConfig,
    Timeout,
)
from collectorkit.config._types import Duration, Secret, is_secret_name
from collectorkit.delivery._outbox import DEFAULT_CALLBACK_RETRY
from collectorkit.sinks import SINKS
from collectorkit.state._open import STATE_STORE_SCHEMES, state_url_scheme

__all__ = [
    "Config",
    "DefaultsConfig",
    "FleetConfig",
    "SinkConfig",
    "StatusConfig",
    "secret_values_in",
]

DEFAULT_STATE_URL = "sqlite:///./collectorkit.db"


class SinkConfig(StrictModel):
    """``type`` names a sink in the sinks registry; the other keys are that sink's options."""

    model_config = ConfigDict(frozen=True, extra="allow", use_attribute_docstrings=True)

    type: str

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        return check_name(SINKS, value)

    @property
    def options(self) -> dict[str, Any]:
        """Everything but ``type``: handed to the sink's factory."""
        return dict(self.model_extra or {})


class StatusConfig(StrictModel):
    """The status server (``/health``, ``/metrics``, ``/status``, dashboard).

    A ``token`` is required when ``host`` is not a loopback address.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    token: Secret | None = None

    @model_validator(mode="after")
    def _token_off_loopback(self) -> StatusConfig:
        if self.enabled:
            check_bind(self.host, self.token, hint=STATUS_TOKEN_HINT)
            if self.token is not None:
                check_token(self.token.get_secret_value(), path="token")
        return self


class FleetConfig(StrictModel):
    """How ``collectorkit worker`` processes share the sources through ``coordination``."""

    concurrency: int = Field(default=4, ge=1)
    """Sources one worker collects at the same time."""
    heartbeat: Duration = Field(default=10.0, gt=0)
    """How often a worker tells the database it is alive."""
    stalled_after: Duration = Field(default=30.0, gt=0)
    """A worker silent this long is stalled: its sources are deferred again to another worker
    (failover within ``stalled_after + heartbeat + dispatch_every``)."""
    dispatch_every: int = Field(default=5, ge=1, le=60)
    """Seconds between two dispatcher ticks (a divisor of 60): each tick defers one job per
    due source and recovers stalled ones."""
    delete_jobs: Literal["never", "successful", "always"] = "successful"
    """Which finished jobs a worker deletes from the jobs table: ``successful`` ones (failed
    ones stay for inspection), ``always`` or ``never`` (then prune the table yourself)."""

    @model_validator(mode="after")
    def _fleet_timing(self) -> FleetConfig:
        if 60 % self.dispatch_every:
            raise ValueError(f"dispatch_every {self.dispatch_every} must divide 60")
        if self.stalled_after <= self.heartbeat:
            raise ValueError(
                f"stalled_after ({self.stalled_after}s) must be longer than heartbeat "
                f"({self.heartbeat}s), or live workers would be taken for stalled"
            )
        return self


class DefaultsConfig(StrictModel):
    """Settings every source inherits unless it sets its own (mappings merge key by key)."""

    interval: Duration | None = None
    jitter: Duration | None = None
    retry: Retry | None = None
    rate_limit: RateLimit | None = None
    circuit_breaker: CircuitBreaker | None = None
    timeout: Timeout | None = None
    key_fields: list[str] | None = None
    pass_through: bool | None = None
    verify_tls: bool | None = None
    pipeline: list[ProcessorStep] | None = None


def _merge(default: Any, own: Any) -> Any:
    if isinstance(default, dict) and isinstance(own, dict):
        return {**default, **{k: _merge(default.get(k), v) for k, v in own.items()}}
    return own


def _apply_defaults(data: dict[str, Any]) -> dict[str, Any]:
    raw_defaults, raw_sources = data.get("defaults"), data.get("sources")
    if not isinstance(raw_defaults, dict) or not isinstance(raw_sources, list):
        return data
    try:
        DefaultsConfig.model_validate(raw_defaults)
    except ValueError:
        return data  # reported at defaults.*; merging bad values would repeat each error
    given = {k: v for k, v in raw_defaults.items() if v is not None}
    sources = [
        {**given, **{k: _merge(given.get(k), v) for k, v in src.items()}}
        if isinstance(src, dict)
        else src
        for src in raw_sources
    ]
    return {**data, "sources": sources}


def _expanded(sources: Any) -> Any:
    """Sources with their connectors expanded; one that cannot be is left for its own
    validation to report (at its path)."""
    if not isinstance(sources, list):
        return sources
    out = []
    for source in sources:
        try:
            out.append(expand_connector(source))
        except PydanticCustomError:
            out.append(source)
    return out


class Config(StrictModel):
    """A validated configuration file. Build one with :func:`load_config`."""

    version: Literal[1] = 1
    """The version of this file format."""
    state: str = DEFAULT_STATE_URL
    """Where collector state and watermarks live: sqlite:///…, postgresql://…, redis://…,
    http(s)://storage-service, memory://."""
    coordination: str | None = None
    """``collectorkit worker``: the PostgreSQL database the workers share (postgresql://…);
    by default the ``state`` database when that is PostgreSQL. ``run`` does not use it."""
    fleet: FleetConfig = Field(default_factory=FleetConfig)
    """``collectorkit worker``: concurrency, heartbeat and stall detection, dispatch."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    shutdown_grace: Duration = 30.0
    """How long in-flight pages may take to finish after SIGINT/SIGTERM."""
    sinks: list[SinkConfig] = Field(default_factory=lambda: [SinkConfig(type="sqlite")])
    """Where records go; every sink receives every record (idempotent on the record key)."""
    dead_letter: SinkConfig | None = None
    """Where records that fail processing go, with the reason (a sink, e.g. ``type: jsonl``);
    without it, ``collectorkit-dead-letter.jsonl`` next to a ``sqlite:///`` state (else in the
    working directory)."""
    callback_retry: Retry = Field(default_factory=lambda: DEFAULT_CALLBACK_RETRY)
    """How the callback outbox retries an alert whose callback failed; after ``max_attempts``
    the alert moves to the state's ``callback_dead_letter`` namespace."""
    sources: list[SourceConfig] = Field(min_length=1)
    """The APIs and feeds to collect from."""
    status: StatusConfig = Field(default_factory=StatusConfig)
    """The status server: /health, /ready, /metrics, /status and the dashboard."""
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    """Settings every source inherits unless it sets its own."""
    connectors_dir: str | None = None
    """A folder of your own connector definitions (``*.yaml``), besides the shipped ones."""

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "sources" in data:  # a connector's settings come before the file's defaults
            data = {**data, "sources": _expanded(data["sources"])}
        return _apply_defaults(data)

    # defined after _defaults so that it runs first, around it (pydantic runs before/wrap
    # validators in reverse order of definition)
    @model_validator(mode="wrap")
    @classmethod
    def _connectors(cls, data: Any, handler: ModelWrapValidatorHandler[Config]) -> Config:
        folder = data.get("connectors_dir") if isinstance(data, dict) else None
        with connectors_from(folder if isinstance(folder, str) else None):
            return handler(data)

    @field_validator("state")
    @classmethod
    def _state_url(cls, value: str) -> str:
        check_name(STATE_STORE_SCHEMES, state_url_scheme(value))  # only the scheme is shown
        return value

    @field_validator("coordination")
    @classmethod
    def _coordination_url(cls, value: str | None) -> str | None:
        if value is not None and state_url_scheme(value) not in ("postgresql", "postgres"):
            raise ValueError("coordination must be a postgresql:// URL (the workers' database)")
        return value

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        seen: set[str] = set()
        for source in sources:
            if source.name in seen:
                raise ValueError(f"source name {source.name!r} is used twice; names must be unique")
            seen.add(source.name)
        return sources

    def source(self, name: str) -> SourceConfig:
        """The source called ``name`` (``KeyError`` listing the names when there is none)."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(f"no source {name!r}; sources: {', '.join(s.name for s in self.sources)}")

    def to_dict(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        """The configuration as plain data; :func:`load_config` reads it back to an equal Config.

        Secrets are masked unless ``reveal_secrets`` (then treat the result as a secret too):
        credential fields, and every value under a secret name (:func:`is_secret_name`: a
        ``session_id`` header, a password in a URL ...).
        """
        dump = self.model_dump(
            mode="json", by_alias=True, context={"reveal_secrets": reveal_secrets}
        )
        return dump if reveal_secrets else redact(dump)

    def secret_values(self) -> list[str]:
        """Every credential in the configuration, to register with the log redactor."""
        return secret_values_in(self)


def secret_values_in(value: Any) -> list[str]:
    """Every credential in ``value`` (a :class:`Config`, or a file's data before validation):
    secrets, values under secret names, and the passwords and secret parameters of URLs."""
    found: list[str] = []
    _collect_secrets(value, found)
    return found


def _collect_secrets(value: Any, found: list[str]) -> None:
    if isinstance(value, SecretStr):
        found.append(value.get_secret_value())
    elif isinstance(value, str) and ("://" in value or "=" in value):
        # postgresql://user:password@host/db?sslpassword=..., or host=db password=...
        found.extend(url_secrets(value))
    elif isinstance(value, StrictModel):
        for name in type(value).model_fields:
            _collect_secrets(getattr(value, name), found)
        _collect_secrets(dict(value.model_extra or {}), found)
    elif isinstance(value, AuthSpec):
        _collect_secrets(dict(value.options), found)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        # the library's objects (the request, its shards): headers and params may hold keys
        for field in dataclasses.fields(value):
            if field.init:
                _collect_secrets(getattr(value, field.name), found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_secrets(item, found)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and is_secret_name(key):
                found.append(item)
            else:
                _collect_secrets(item, found)
