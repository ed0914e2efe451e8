"""Sinks by the type names the YAML config uses (``sinks: [{type: sqlite, path: …}]``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from collectorkit._errors import ConfigError
from collectorkit._registry import Registry
from collectorkit.sinks._jsonfile import JSONFileSink
from collectorkit.sinks._jsonl import JSONLSink
from collectorkit.sinks._kafka import KafkaSink
from collectorkit.sinks._opensearch import OpenSearchSink
from collectorkit.sinks._postgres import PostgresSink
from collectorkit.sinks._redis import RedisStreamSink
from collectorkit.sinks._s3 import S3Sink
from collectorkit.sinks._simple import DeadLetterSink, FanoutSink, MemorySink, StdoutSink
from collectorkit.sinks._splunk_hec import SplunkHECSink
from collectorkit.sinks._sqlite import SQLiteSink
from collectorkit.sinks._syslog import SyslogSink
from collectorkit.sinks._webhook import WebhookSink
from collectorkit.typing import Sink

__all__ = ["SINKS", "build_sink", "register_sink", "sink_types"]

SinkFactory = Callable[..., Sink]


def _fanout(sinks: list[Any], **options: Any) -> FanoutSink:
    return FanoutSink([build_sink(s, path=f"sinks[{i}]") for i, s in enumerate(sinks)], **options)


def _dead_letter(sink: Any = None, **options: Any) -> DeadLetterSink:
    return DeadLetterSink(None if sink is None else build_sink(sink, path="sink"), **options)


def _postgres(url: str | None = None, *, dsn: str | None = None, **options: Any) -> PostgresSink:
    """``{type: postgres, url: …}`` (or ``dsn: …``)."""
    target = url or dsn
    if not target:
        raise ConfigError("the postgres sink needs `url` (or `dsn`)", path="url")
    return PostgresSink(target, **options)


SINKS: Registry[SinkFactory] = Registry(
    "sink type",
    {
        "dead_letter": _dead_letter,
        "fanout": _fanout,
        "http": WebhookSink,
        "json_files": JSONFileSink,
        "jsonl": JSONLSink,
        "kafka": KafkaSink,
        "memory": MemorySink,
        "opensearch": OpenSearchSink,
        "postgres": _postgres,
        "redis": RedisStreamSink,
        "s3": S3Sink,
        "splunk_hec": SplunkHECSink,
        "sqlite": SQLiteSink,
        "stdout": StdoutSink,
        "syslog": SyslogSink,
        "webhook": WebhookSink,
    },
    path="type",
)
"""Sink ``type`` → factory; the factory's parameters are that sink's options."""


def sink_types() -> list[str]:
    """Every sink ``type`` name, sorted."""
    return list(SINKS)


def register_sink(name: str, factory: SinkFactory) -> None:
    """Make ``factory(**options)`` available to configs as ``type: name``."""
    SINKS.register(name, factory)


def build_sink(spec: Mapping[str, Any], *, path: str = "sinks[0]") -> Sink:
    """A sink from its config form ``{type: name, **options}``; errors name ``path``."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
        raise ConfigError(f"expected {{type: <sink type>, ...options}}, got {spec!r}", path=path)
    name = spec["type"]
    factory = SINKS.lookup(name, path=f"{path}.type")
    options = {k: v for k, v in spec.items() if k != "type"}
    try:
        return factory(**options)
    except ConfigError as exc:
        where = f"{path}.{exc.path}" if exc.path else path
        raise ConfigError(exc.reason, path=where) from None
    except TypeError as exc:
        raise ConfigError(
            f"bad options {sorted(options)} for sink {name!r}: {exc}", path=path
        ) from None
