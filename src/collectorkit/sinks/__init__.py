"""collectorkit.sinks: storage back-ends (seed 003's storage layer), all idempotent on the key.

Every sink has ``connect``/``aclose``/``store``/``query``/``delete`` and ``async with``;
``SQLiteSink``, ``PostgresSink`` and ``RedisStreamSink`` also commit a batch together with the
collector checkpoint (``store_with_checkpoint``).
"""

from collectorkit.sinks._base import (
    BaseSink,
    SinkConvertible,
    as_envelopes,
    as_sink,
    match_criteria,
    raw_support,
)
from collectorkit.sinks._jsonfile import JSONFileSink
from collectorkit.sinks._jsonl import JSONLSink
from collectorkit.sinks._kafka import KafkaMessage, KafkaProducer, KafkaSettings, KafkaSink
from collectorkit.sinks._opensearch import OpenSearchSink
from collectorkit.sinks._postgres import PostgresSink
from collectorkit.sinks._redis import RedisStreamSink
from collectorkit.sinks._registry import SINKS as SINKS
from collectorkit.sinks._registry import build_sink, register_sink, sink_types
from collectorkit.sinks._s3 import S3Sink
from collectorkit.sinks._simple import (
    DeadLetterSink,
    FanoutSink,
    MemorySink,
    StdoutSink,
    dead_letter_envelope,
)
from collectorkit.sinks._splunk_hec import SplunkHECSink
from collectorkit.sinks._sqlite import SQLiteSink
from collectorkit.sinks._syslog import SyslogSink
from collectorkit.sinks._webhook import WebhookSink
from collectorkit.typing import QueryCriteria, StoreResult

__all__ = [
    "BaseSink",
    "DeadLetterSink",
    "FanoutSink",
    "JSONFileSink",
    "JSONLSink",
    "KafkaMessage",
    "KafkaProducer",
    "KafkaSettings",
    "KafkaSink",
    "MemorySink",
    "OpenSearchSink",
    "PostgresSink",
    "QueryCriteria",
    "RedisStreamSink",
    "S3Sink",
    "SQLiteSink",
    "SinkConvertible",
    "SplunkHECSink",
    "StdoutSink",
    "StoreResult",
    "SyslogSink",
    "WebhookSink",
    "as_envelopes",
    "as_sink",
    "build_sink",
    "dead_letter_envelope",
    "match_criteria",
    "raw_support",
    "register_sink",
    "sink_types",
]
