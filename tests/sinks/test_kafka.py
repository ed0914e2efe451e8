"""The Kafka sink against a real Kafka-protocol broker started by the suite (Tansu, in memory),
read back with a real consumer; and, through the :class:`KafkaProducer` Protocol, a recording
producer for what this broker cannot do (idempotent and transactional producers need
``InitProducerId``, which Tansu's in-memory storage refuses)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from collectorkit import (
    ConfigError,
    Envelope,
    SinkError,
    collect_into,
    record_key,
)
from collectorkit.config import config_json_schema
from collectorkit.simulator import ProfileConfig, SimulatorConfig, SimulatorServer
from collectorkit.sinks import KafkaMessage, KafkaProducer, KafkaSettings, KafkaSink, build_sink
from collectorkit.state import SQLiteStateStore
from tests._servers import start_or_skip
from tests._stream_servers import start_kafka
from tests.sinks._support import generic_blueprint


def _batch(n: int, source: str = "xdr", start: int = 0) -> list[Envelope]:
    return [
        Envelope(source, record_key(source, {"id": i}, ["id"]), {"id": i, "msg": f"event {i}"})
        for i in range(start, start + n)
    ]


async def _consume(bootstrap: str, *topics: str, expect: int) -> list[Any]:
    """Every message of ``topics`` from the beginning (stops once ``expect`` arrived)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[Any] = []
    try:
        for _ in range(30):
            batches = await consumer.getmany(timeout_ms=200)
            found.extend(m for part in batches.values() for m in part)
            if len(found) >= expect:
                break
    finally:
        await consumer.stop()
    return found


def _topic() -> str:
    return f"ck-{uuid.uuid4().hex[:8]}"


@pytest.mark.integration
async def test_records_arrive_keyed_by_record_key(kafka_bootstrap: str) -> None:
    topic = _topic()
    sink = KafkaSink(kafka_bootstrap, f"{topic}-{{source}}", idempotence=False, timeout=10)
    xdr, okta = _batch(30), _batch(20, source="okta")
    async with sink:
        first = await sink.store(xdr)
        await sink.store(okta)
    found = await _consume(kafka_bootstrap, f"{topic}-xdr", f"{topic}-okta", expect=50)
    assert first.written == 30
    by_key = {m.key.decode(): m for m in found}
    assert len(found) == 50
    for envelope in xdr + okta:
        message = by_key[envelope.key]
        assert json.loads(message.value) == envelope.data
        assert dict(message.headers) == {"source": envelope.source.encode()}
        assert message.topic == f"{topic}-{envelope.source}"


@pytest.mark.integration
async def test_an_idempotent_producer_on_a_broker_without_it_fails_loudly(
    kafka_bootstrap: str,
) -> None:
    sink = KafkaSink(kafka_bootstrap, _topic(), timeout=5)  # idempotence is the default
    with pytest.raises(SinkError, match=rf"kafka kafka: connect at kafka://{kafka_bootstrap}/"):
        async with sink:
            await sink.store(_batch(1))


@pytest.mark.integration
async def test_refused_credentials_are_a_sink_error_without_the_password() -> None:
    broker = start_or_skip(lambda: start_kafka(authentication=True))
    try:
        sink = KafkaSink(
            broker.url,
            _topic(),
            idempotence=False,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-256",
            sasl_username="collector",
            sasl_password="kafka-pass-5521",
            timeout=5,
        )
        with pytest.raises(SinkError, match=f"connect at kafka://{broker.url}/") as info:
            async with sink:
                await sink.store(_batch(1))
    finally:
        broker.stop()
    assert "kafka-pass-5521" not in str(info.value)


@pytest.mark.integration
async def test_no_broker_is_a_sink_error_within_the_timeout() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        sink = KafkaSink(f"127.0.0.1:{port}", "t", idempotence=False, timeout=3)
        with pytest.raises(SinkError, match=f"127.0.0.1:{port}"):
            async with sink:
                await sink.store(_batch(1))


@pytest.mark.integration
async def test_collect_into_kafka_loses_no_record_and_repeats_keep_their_key(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = _topic()
    config = SimulatorConfig(seed=5, profiles=(ProfileConfig(kind="generic", records=120),))
    async with SimulatorServer(config) as sim:
        for run in range(2):  # the second run starts over: every record is sent again
            state = SQLiteStateStore(tmp_path / f"state{run}.db")
            sink = KafkaSink(kafka_bootstrap, topic, idempotence=False, timeout=10)
            async with sink:
                report = await collect_into(
                    generic_blueprint(sim.url("generic")), sinks=[sink], state=state
                )
            await state.aclose()
            assert report.stored == 120
        served = sim.ledger.served_ids("generic")
    found = await _consume(kafka_bootstrap, topic, expect=240)
    ids = [json.loads(m.value)["id"] for m in found]
    assert set(map(str, ids)) == served  # none lost
    keys: dict[str, set[str]] = {}
    for m in found:
        keys.setdefault(m.key.decode(), set()).add(json.loads(m.value)["id"])
    assert len(keys) == 120  # each repeat carried the same key: a compacted topic keeps one
    assert all(len(v) == 1 for v in keys.values())


class RecordingProducer:
    """A :class:`KafkaProducer` that records calls; ``fail_on`` makes that page's produce fail."""

    def __init__(self, settings: KafkaSettings, fail_on: int | None = None) -> None:
        self.settings = settings
        self.fail_on = fail_on
        self.calls: list[str] = []
        self.committed: list[KafkaMessage] = []
        self._open: list[KafkaMessage] = []

    async def start(self) -> None:
        self.calls.append("start")

    async def produce(self, messages: Sequence[KafkaMessage]) -> None:
        self.calls.append(f"produce {len(messages)}")
        await asyncio.sleep(0.01)  # the broker's round trip: other tasks run meanwhile
        if self.fail_on is not None and self.calls.count("begin") == self.fail_on:
            raise SinkError("produce: KafkaTimeoutError")
        self._open.extend(messages)

    async def begin_transaction(self) -> None:
        if self.calls and self.calls[-1] not in ("start", "commit", "abort"):
            raise SinkError("begin transaction: a transaction is already in progress")
        self.calls.append("begin")
        self._open = []

    async def commit_transaction(self) -> None:
        self.calls.append("commit")
        self.committed.extend(self._open)

    async def abort_transaction(self) -> None:
        self.calls.append("abort")
        self._open = []

    async def stop(self) -> None:
        self.calls.append("stop")


async def test_transactions_commit_each_page_and_abort_a_failed_one() -> None:
    made: list[RecordingProducer] = []

    def factory(settings: KafkaSettings) -> KafkaProducer:
        made.append(RecordingProducer(settings, fail_on=2))
        return made[-1]

    sink = KafkaSink("broker:9092", "alerts", transactional_id="ck-1", producer=factory)
    async with sink:
        await sink.store(_batch(3))
        with pytest.raises(SinkError, match="kafka kafka: produce at kafka://broker:9092/alerts"):
            await sink.store(_batch(2, start=3))
    producer = made[0]
    assert isinstance(producer, KafkaProducer)
    assert producer.calls == [
        "start",
        "begin",
        "produce 3",
        "commit",
        "begin",
        "produce 2",
        "abort",
        "stop",
    ]
    assert [m.key.decode() for m in producer.committed] == [e.key for e in _batch(3)]
    assert producer.settings.transactional_id == "ck-1"
    assert producer.settings.idempotence


async def test_concurrent_pages_take_turns_in_their_transactions() -> None:
    made: list[RecordingProducer] = []

    def factory(settings: KafkaSettings) -> KafkaProducer:
        made.append(RecordingProducer(settings))
        return made[-1]

    sink = KafkaSink("broker:9092", "alerts", transactional_id="ck-3", producer=factory)
    async with sink:
        await asyncio.gather(*(sink.store(_batch(2, source=f"s{i}")) for i in range(3)))
    assert made[0].calls[1:-1] == ["begin", "produce 2", "commit"] * 3
    assert len(made[0].committed) == 6


async def test_a_failed_page_leaves_the_checkpoint_unsaved(tmp_path: Path) -> None:
    def factory(settings: KafkaSettings) -> KafkaProducer:
        return RecordingProducer(settings, fail_on=1)

    sink = KafkaSink("broker:9092", "alerts", transactional_id="ck-2", producer=factory)
    config = SimulatorConfig(seed=5, profiles=(ProfileConfig(kind="generic", records=30),))
    state = SQLiteStateStore(tmp_path / "state.db")
    async with SimulatorServer(config) as sim:
        with pytest.raises(SinkError):
            async with sink:
                await collect_into(generic_blueprint(sim.url("generic")), sinks=[sink], state=state)
    assert await state.get("collector_state", "sim") is None
    await state.aclose()


def test_security_settings_reach_the_producer_and_the_password_is_masked() -> None:
    made: list[RecordingProducer] = []

    def factory(settings: KafkaSettings) -> KafkaProducer:
        made.append(RecordingProducer(settings))
        return made[-1]

    sink = build_sink(
        {
            "type": "kafka",
            "bootstrap_servers": "b1:9093, b2:9093",
            "topic": "alerts",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "collector",
            "sasl_password": "kafka-pass-7731",
        }
    )
    assert isinstance(sink, KafkaSink)
    settings = sink.settings
    assert settings.bootstrap_servers == ("b1:9093", "b2:9093")
    assert settings.sasl_mechanism == "SCRAM-SHA-512"
    assert settings.ssl_context is not None
    assert settings.sasl_password == "kafka-pass-7731"
    for shown in (repr(sink), repr(settings), sink.location):
        assert "kafka-pass-7731" not in shown
    schema = json.dumps(config_json_schema())
    start = schema.index('"const": "kafka"')
    options = schema[start : schema.index('"required"', start)]
    assert '"sasl_password": {"anyOf"' in options or '"sasl_password"' in options
    assert "A credential" in options[options.index('"sasl_password"') :]


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"bootstrap_servers": "nohostport"}, "bootstrap_servers"),
        ({"security_protocol": "TLS"}, "security_protocol"),
        ({"sasl_mechanism": "PLAIN"}, "security_protocol"),
        ({"security_protocol": "SASL_SSL"}, "sasl_mechanism"),
        ({"compression": "brotli"}, "compression"),
        ({"ssl_ca_file": "/ca.pem"}, "ssl_ca_file"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, Any], path: str) -> None:
    spec = {"type": "kafka", "bootstrap_servers": "b:9092", "topic": "t", **options}
    with pytest.raises(ConfigError) as info:
        build_sink(spec)
    assert info.value.path == f"sinks[0].{path}"


def test_without_aiokafka_the_config_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiokafka", None)  # as if it were not installed
    with pytest.raises(ConfigError, match=r"pip install 'collectorkit\[kafka\]'") as info:
        build_sink({"type": "kafka", "bootstrap_servers": "b:9092", "topic": "t"})
    assert info.value.path == "sinks[0].type"
