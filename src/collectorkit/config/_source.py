"""Configuration models of one source: schedule, policies, pipeline, and streaming options."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from collectorkit.config._connectors import expand_connector
from collectorkit.config._objects import Options, read_as
from collectorkit.config._registry import check_name
from collectorkit.config._request import Auth, AuthSpec, Request, StrictModel
from collectorkit.config._types import CronExpression, Duration
from collectorkit.connectors import HOOKS
from collectorkit.http import (
    CircuitBreakerPolicy,
    RateLimitPolicy,
    RetryPolicy,
    TimeoutSettings,
)
from collectorkit.pipeline import PROCESSORS
from collectorkit.sources import LongPollSource, ReconnectPolicy, SSESource, WebSocketSource

__all__ = [  # noqa: RUF022 - plain sorted(), the order tests/test_exported_members.py checks
    "CircuitBreaker",
    "ProcessedIdsConfig",
    "ProcessorStep",
    "RateLimit",
    "Reconnect",
    "Retry",
    "STREAM_SOURCES",
    "STREAM_SUPPLIED",
    "SourceConfig",
    "Stream",
    "Timeout",
]

_URL = re.compile(r"^(https?|wss?)://[^\s/]+", re.IGNORECASE)
DEV_TOKEN = "dev-dummy-token"  # noqa: S105 - the documented placeholder, not a credential
"""Seed 002: a source whose credential is this runs in development mode (no API calls)."""


def _policy(cls: type, *, scalar: tuple[str, ...] = ()) -> Options:
    return Options({cls.__name__: cls}, cls, scalar=scalar)


Retry = Annotated[RetryPolicy, _policy(RetryPolicy)]
"""``retry: {max_attempts: 5, initial_delay: 1s}``: :class:`collectorkit.RetryPolicy`."""
RateLimit = Annotated[RateLimitPolicy, _policy(RateLimitPolicy)]
"""``rate_limit: {rate_per_second: 5, burst: 10}``: :class:`collectorkit.RateLimitPolicy`."""
CircuitBreaker = Annotated[CircuitBreakerPolicy, _policy(CircuitBreakerPolicy)]
"""``circuit_breaker: {failure_threshold: 5}``: :class:`collectorkit.CircuitBreakerPolicy`."""
Timeout = Annotated[TimeoutSettings, _policy(TimeoutSettings, scalar=("connect", "read"))]
"""``timeout: {connect: 5, read: 30s, execution: 10m}``, or one duration for connect and read."""
Reconnect = Annotated[ReconnectPolicy, _policy(ReconnectPolicy)]
"""Backoff between reconnects of a stream: :class:`collectorkit.sources.ReconnectPolicy`."""
read_as(Reconnect)  # wherever a streaming source's signature names it

STREAM_SOURCES: dict[str, type] = {
    "sse": SSESource,
    "websocket": WebSocketSource,
    "long_poll": LongPollSource,
}
"""A streaming source's ``type`` → its class; the class's constructor is its ``stream`` options."""

STREAM_SUPPLIED = (
    "url",
    "source_id",
    "headers",
    "params",
    "data_path",
    "auth",
    "verify",
    "allowed_hosts",
    "max_events",
    "last_event_id",
    "stop",
    "clock",
    "transport",
    "client",
)
"""Constructor parameters of a streaming source that the source's other settings supply
(``base_url`` + ``request``, ``auth``, ``verify_tls``, ``allowed_hosts``, ``limit``) or that are
objects of the running process: not ``stream`` options."""

Stream = Annotated[
    BaseModel,
    Options(STREAM_SOURCES, BaseModel, chosen_by="type", skip=STREAM_SUPPLIED),
]
"""``stream: {batch_size: 50, reconnect: {...}}``: the keyword parameters of the class the
source's ``type`` names (:class:`~collectorkit.sources.SSESource`,
:class:`~collectorkit.sources.WebSocketSource`, :class:`~collectorkit.sources.LongPollSource`,
and what their base :class:`~collectorkit.sources.StreamingSource` takes), with their defaults."""


class ProcessedIdsConfig(StrictModel):
    """Seed 002's memory of processed record ids: the newest ``capacity`` are kept (and saved
    with the state, so a restart does not hand the same alert to the callbacks twice)."""

    capacity: int = Field(default=10_000, ge=1)


class ProcessorStep(StrictModel):
    """One pipeline step, written in YAML as ``- name: {options}``, ``- name: value`` or ``- name``.

    The options are checked by the pipeline layer's factory when the file is loaded.
    """

    name: str
    options: Any = None

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"name": data}
        if not isinstance(data, dict):
            raise ValueError(f"{data!r} is not a processor name or {{name: {{options}}}}")
        if "type" in data:
            return {"name": data["type"], "options": {k: v for k, v in data.items() if k != "type"}}
        if not (data.keys() <= {"name", "options"} and "name" in data):
            if len(data) != 1:
                raise ValueError(
                    "a pipeline step is one processor name with its options, got keys "
                    f"{', '.join(map(str, data))}"
                )
            ((name, options),) = data.items()
            return {"name": name, "options": options}
        return data

    @model_validator(mode="after")
    def _known(self) -> ProcessorStep:
        check_name(PROCESSORS, self.name)
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        return {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": {"type": ["object", "null"]},
                },
            ],
            "description": "A processor name, or {name: {options}}.",
        }

    @model_serializer(mode="plain")
    def _to_yaml(self) -> dict[str, Any]:
        return {self.name: self.options}


def _request_or_connector(schema: dict[str, Any]) -> None:
    """In the JSON Schema: ``request`` is required unless a ``connector`` supplies it."""
    required = [name for name in schema.get("required", []) if name != "request"]
    schema["required"] = required
    schema["anyOf"] = [{"required": ["request"]}, {"required": ["connector"]}]


class SourceConfig(StrictModel):
    """One configured source. ``type: http`` (default) runs the collector over ``request``.

    Exactly one schedule: ``interval`` (default 60 s) or ``cron``; ``jitter`` delays each run by
    up to that much. Unset policies come from the file's ``defaults``. A ``connector`` supplies
    every setting but ``name``, ``base_url``, ``auth`` and ``options``.
    """

    model_config = ConfigDict(json_schema_extra=_request_or_connector)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", min_length=1, max_length=100)
    """Unique; names the source in state, records, metrics and logs."""
    type: Literal["http", "sse", "websocket", "long_poll"] = "http"
    """``http`` runs the paginating collector; the others are streaming feeds."""
    base_url: str
    auth: Auth = Field(default_factory=AuthSpec)
    enabled: bool = True
    dev_mode: bool = False
    """Run the loop without calling the API (also implied by the token dev-dummy-token)."""
    interval: Duration | None = None
    cron: CronExpression | None = None
    jitter: Duration = 0.0
    """Delay each run by a random amount up to this, so sources do not fire in step."""
    request: Request
    stream: Stream | None = None
    """Options of an ``sse``, ``websocket`` or ``long_poll`` source: its class's parameters."""
    retry: Retry = Field(default_factory=RetryPolicy)
    rate_limit: RateLimit | None = None
    circuit_breaker: CircuitBreaker | None = None
    timeout: Timeout = Field(default_factory=TimeoutSettings)
    key_fields: list[str] = Field(default=["id"])
    """Record fields that make the idempotency key (a content hash when they are missing)."""
    limit: int | None = Field(default=None, ge=1)
    """Records per run at most (``XDR_MAX_ALERTS_PER_POLL``); the next run continues."""
    pass_through: bool = False
    """Keep each record as the JSON bytes the API sent, from the response to the sinks
    (only the key, timestamp and id fields decoded): faster, the same exactly-once guarantee.
    Needs no pipeline processors and no callbacks, sinks that store raw records (jsonl,
    sqlite, s3) and plain dotted paths; otherwise the records are decoded and a warning says
    why."""
    strategy: Literal["sequential", "concurrent"] = "sequential"
    concurrency: int = Field(default=4, ge=1)
    verify_tls: bool = True
    allowed_hosts: list[str] = Field(default_factory=list)
    """Other hosts a next link may lead to with the credentials still attached."""
    pipeline: list[ProcessorStep] = Field(default_factory=list)
    callbacks: list[str | dict[str, Any]] = Field(default_factory=list)
    """Run for each new record: ``{python: pkg.mod:func}``, ``{command: ...}``, ``{webhook: …}``."""
    processed_ids: ProcessedIdsConfig = Field(default_factory=ProcessedIdsConfig)
    connector: str | None = None
    """A connector (``collectorkit connectors list``) whose settings go under this source's:
    give ``base_url``, ``auth`` and ``options``; override anything else."""
    options: dict[str, Any] = Field(default_factory=dict)
    """The connector's options (``collectorkit connectors show NAME``)."""
    hooks: list[str] = Field(default_factory=list)
    """Named connector hooks applied to the built collector (usually set by the connector)."""

    @model_validator(mode="before")
    @classmethod
    def _connector(cls, data: Any) -> Any:
        return expand_connector(data)

    @field_validator("hooks")
    @classmethod
    def _known_hooks(cls, value: list[str]) -> list[str]:
        for name in value:
            check_name(HOOKS, name)
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError(f"{value!r} is not an http(s):// or ws(s):// URL")
        return value.rstrip("/")

    @field_validator("verify_tls")
    @classmethod
    def _tls_to_verify(cls, value: bool, info: ValidationInfo) -> bool:
        base_url = str(info.data.get("base_url") or "")
        if not value and base_url.lower().startswith(("http://", "ws://")):
            raise ValueError(
                f"false has no effect: {base_url} uses no TLS, so there is nothing to verify;"
                " remove verify_tls or use an https:// (wss://) base_url"
            )
        return value

    @field_validator("interval")
    @classmethod
    def _positive_interval(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError(f"{value!r} must be > 0 seconds")
        return value

    @model_validator(mode="after")
    def _schedule(self) -> SourceConfig:
        if self.interval is not None and self.cron is not None:
            raise ValueError("set either interval or cron, not both")
        if self.strategy == "concurrent" and not self.request.shards:
            raise ValueError("strategy 'concurrent' needs request.shards")
        if self.type == "http" and self.stream is not None:
            raise ValueError("stream settings apply to sse, websocket and long_poll sources")
        websocket = self.base_url.lower().startswith(("ws://", "wss://"))
        if websocket != (self.type == "websocket"):
            wanted = "ws:// or wss://" if self.type == "websocket" else "http:// or https://"
            raise ValueError(f"a {self.type} source needs a {wanted} base_url")
        return self

    @property
    def schedule_seconds(self) -> float:
        """The interval in seconds (60 when neither ``interval`` nor ``cron`` is set)."""
        return self.interval if self.interval is not None else 60.0

    @property
    def is_stream(self) -> bool:
        """A streaming source (sse, websocket, long_poll): a run lasts as long as its stream."""
        return self.type != "http"

    @property
    def is_dev_mode(self) -> bool:
        """Development mode: set explicitly, or the credential is ``dev-dummy-token`` (seed 002)."""
        if self.dev_mode:
            return True
        secret = getattr(self.auth, "token", None) or getattr(self.auth, "key", None)
        return secret is not None and secret.get_secret_value() == DEV_TOKEN
