"""Builders: a loaded configuration in, the collector, sources, pipelines, sinks and store out.

The policies (retry, rate limit, breaker, timeouts, pagination, incremental windows, reconnect)
already are the library's objects once loaded; what is left is assembling them.
:func:`check_config` runs every builder once at load time so those checks, too, happen before
anything runs, with errors placed at the YAML path.
"""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from collectorkit._clock import Clock
from collectorkit._errors import ConfigError
from collectorkit.collect import CollectorBlueprint
from collectorkit.config._models import Config
from collectorkit.config._objects import parameter_names, plain_options
from collectorkit.config._refs import ConfigIssue
from collectorkit.config._request import AuthSpec
from collectorkit.config._source import STREAM_SOURCES, SourceConfig
from collectorkit.connectors import HookContext, apply_hooks
from collectorkit.delivery._callbacks import callback_from_spec
from collectorkit.http import AuthHandler, Transport
from collectorkit.pipeline import Pipeline, build_pipeline
from collectorkit.sinks import build_sink
from collectorkit.sources import HTTPCollectorSource
from collectorkit.state import open_state_store
from collectorkit.typing import DataSource, Sink, StateStore

__all__ = [
    "build_auth",
    "build_blueprint",
    "build_dead_letter",
    "build_pipeline_for",
    "build_sinks",
    "build_source",
    "check_config",
    "open_state",
]

# where a layer's error path starts -> where that setting lives in a source of the YAML file
_PLACES = {
    "request": "request",
    "pagination": "request.pagination",
    "incremental": "request.incremental",
    "blueprint": "",
    "auth": "auth",
    "type": "type",
    "stream": "stream",
}


def build_auth(auth: AuthSpec) -> AuthHandler | None:
    """The auth handler (``None`` for ``type: none``)."""
    return auth.build()


def build_blueprint(
    source: SourceConfig, *, clock: Clock | None = None, transport: Transport | None = None
) -> CollectorBlueprint:
    """The collector blueprint of an ``http`` source."""
    if source.type != "http":
        raise ConfigError(
            f"source {source.name!r} is a {source.type} stream, not an http collector; "
            "build it with build_source()",
            path="type",
        )
    blueprint = CollectorBlueprint(
        name=source.name,
        base_url=source.base_url,
        request=source.request,
        auth_handler=build_auth(source.auth),
        retry_policy=source.retry,
        rate_limit=source.rate_limit,
        circuit_breaker=source.circuit_breaker,
        timeout=source.timeout,
        default_strategy=source.strategy,
        concurrency=source.concurrency,
        allowed_hosts=source.allowed_hosts,
        transport=transport,
        clock=clock,
    )
    if not source.hooks:
        return blueprint
    credentials = {
        k: v.get_secret_value() if isinstance(v, SecretStr) else v
        for k, v in source.auth.options.items()
    }
    context = HookContext(
        options=source.options, auth_type=source.auth.type, credentials=credentials
    )
    return apply_hooks(blueprint, source.hooks, context)


def build_source(
    source: SourceConfig,
    *,
    clock: Clock | None = None,
    last_event_id: str | None = None,
    stop: asyncio.Event | None = None,
    transport: Transport | None = None,
) -> DataSource:
    """The data source of a configured source (``type`` http, sse, websocket or long_poll).

    Streaming sources resume after ``last_event_id`` (the saved checkpoint) and end their
    ``collect_stream`` promptly once ``stop`` is set (the daemon's shutdown event).
    """
    if source.type == "http":
        return HTTPCollectorSource(
            build_blueprint(source, clock=clock, transport=transport), limit=source.limit
        )
    cls = STREAM_SOURCES[source.type]
    supplied = {
        "source_id": source.name,
        "headers": dict(source.request.headers),
        "params": dict(source.request.params),
        "data_path": source.request.data_path,
        "auth": build_auth(source.auth),
        "verify": source.verify_tls,
        "allowed_hosts": source.allowed_hosts,
        "max_events": source.limit,
        "last_event_id": last_event_id,
        "stop": stop,
        "clock": clock,
    }
    taken = parameter_names(cls)
    options = plain_options(source.stream) if source.stream is not None else {}
    try:
        stream: DataSource = cls(
            source.base_url + source.request.endpoint,
            **{k: v for k, v in supplied.items() if k in taken},
            **options,
        )
    except ConfigError as exc:  # the class names its parameter: a stream option
        raise ConfigError(exc.reason, path=f"stream.{exc.path}" if exc.path else "stream") from None
    return stream


def build_pipeline_for(source: SourceConfig, *, index: int = 0) -> Pipeline:
    """The source's processing pipeline."""
    return build_pipeline(
        [step.model_dump() for step in source.pipeline], path=f"sources[{index}].pipeline"
    )


def build_sinks(config: Config) -> list[Sink]:
    """Every configured sink, not yet connected, via the sinks registry."""
    return [
        build_sink({"type": s.type, **s.options}, path=f"sinks[{i}]")
        for i, s in enumerate(config.sinks)
    ]


def build_dead_letter(config: Config) -> Sink | None:
    """The dead-letter sink, when the file configures one."""
    spec = config.dead_letter
    if spec is None:
        return None
    return build_sink({"type": spec.type, **spec.options}, path="dead_letter")


async def open_state(config: Config, *, clock: Clock | None = None) -> StateStore:
    """The state store of ``config.state``, connected and checked."""
    return await open_state_store(config.state, clock=clock)


def _relocate(path: str | None, prefix: str) -> str:
    head, _, rest = (path or "").partition(".")
    place = _PLACES.get(head)
    if place is None:
        return prefix
    return ".".join(p for p in (prefix, place, rest) if p)


def _check_callbacks(source: SourceConfig, prefix: str) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for j, spec in enumerate(source.callbacks):
        path = f"{prefix}.callbacks[{j}]"
        try:
            callback_from_spec(spec, path=path)
        except ConfigError as exc:
            issues.append((exc.path or path, exc.reason))
    return issues


def check_config(config: Config) -> list[ConfigIssue]:
    """Every problem the layers find when building ``config`` (nothing is connected)."""
    issues: list[ConfigIssue] = []
    for i, source in enumerate(config.sources):
        prefix = f"sources[{i}]"
        try:
            build_source(source)
        except ConfigError as exc:
            issues.append((_relocate(exc.path, prefix), exc.reason))
        try:
            build_pipeline_for(source, index=i)
        except ConfigError as exc:
            issues.append((exc.path or prefix, exc.reason))
        issues += _check_callbacks(source, prefix)
    for i, sink in enumerate(config.sinks):
        try:
            build_sink({"type": sink.type, **sink.options}, path=f"sinks[{i}]")
        except ConfigError as exc:
            issues.append((exc.path or f"sinks[{i}]", exc.reason))
    try:
        build_dead_letter(config)
    except ConfigError as exc:
        issues.append((exc.path or "dead_letter", exc.reason))
    return issues
