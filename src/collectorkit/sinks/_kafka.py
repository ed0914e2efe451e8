"""Kafka sink: one message per record, key = record key, ``acks=all``, flushed before the
checkpoint. At-least-once.

A page counts as stored when the broker acknowledged every message of it with ``acks=all``
(written to every in-sync replica). The idempotent producer (on by default) keeps the broker from
writing a message twice when the producer itself retries; a page fetched again after a crash is
sent again, so a record can appear twice in the topic — with the same key, so a compacted topic
keeps one copy and a consumer can drop repeats by key. With ``transactional_id`` each page is one
transaction: a page that fails is aborted, and ``read_committed`` consumers never see it.

The producer is reached through :class:`KafkaProducer`, a small Protocol; the default
implementation uses ``aiokafka`` (``pip install 'collectorkit[kafka]'``) and is the one place
its exceptions are translated.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from collectorkit._errors import ConfigError, SinkError
from collectorkit._records import Envelope
from collectorkit._redact import register_secret
from collectorkit.sinks._base import BaseSink, dump_json, result_for
from collectorkit.sinks._network import check_choice, client_tls_context
from collectorkit.typing import QueryCriteria, StoreResult

__all__ = ["KafkaMessage", "KafkaProducer", "KafkaSettings", "KafkaSink"]

_NO_AIOKAFKA = "the kafka sink needs aiokafka: pip install 'collectorkit[kafka]'"
_SECURITY = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_SASL = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_COMPRESSION = ("none", "gzip", "snappy", "lz4", "zstd")


@dataclass(frozen=True, slots=True)
class KafkaMessage:
    """One message to produce."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@runtime_checkable
class KafkaProducer(Protocol):
    """What the sink needs of a Kafka producer. ``produce`` sends the messages and returns once
    the brokers acknowledged every one (``acks=all``), raising :class:`SinkError` otherwise."""

    async def start(self) -> None: ...

    async def produce(self, messages: Sequence[KafkaMessage]) -> None: ...

    async def begin_transaction(self) -> None: ...

    async def commit_transaction(self) -> None: ...

    async def abort_transaction(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaSettings:
    """The producer settings the sink asks for, independent of the client library
    (``acks=all`` is not a setting: the sink always asks for it)."""

    bootstrap_servers: tuple[str, ...]
    client_id: str = "collectorkit"
    idempotence: bool = True
    transactional_id: str | None = None
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    compression: str = "none"
    linger_ms: int = 5
    timeout: float = 30.0


ProducerFactory = Callable[[KafkaSettings], KafkaProducer]


class _AIOKafkaProducer:
    """:class:`KafkaProducer` on ``aiokafka``; its exceptions become :class:`SinkError` here,
    and nowhere else."""

    def __init__(self, settings: KafkaSettings) -> None:
        try:
            from aiokafka import AIOKafkaProducer
        except ImportError:
            raise ConfigError(_NO_AIOKAFKA, path="type") from None
        options: dict[str, Any] = {
            "bootstrap_servers": list(settings.bootstrap_servers),
            "client_id": settings.client_id,
            "acks": "all",
            "enable_idempotence": settings.idempotence or bool(settings.transactional_id),
            "transactional_id": settings.transactional_id,
            "security_protocol": settings.security_protocol,
            "ssl_context": settings.ssl_context,
            "compression_type": None if settings.compression == "none" else settings.compression,
            "linger_ms": settings.linger_ms,
            "request_timeout_ms": int(settings.timeout * 1000),
        }
        if settings.sasl_mechanism:
            options.update(
                sasl_mechanism=settings.sasl_mechanism,
                sasl_plain_username=settings.sasl_username,
                sasl_plain_password=settings.sasl_password,
            )
        self._producer = AIOKafkaProducer(**options)

    async def _call(self, what: str, work: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await work()
        except SinkError:
            raise
        except Exception as exc:
            # the library's failures are not only KafkaError (a broker refusing SCRAM surfaces
            # as a KeyError from its parser): all of them end here
            raise SinkError(f"{what}: {type(exc).__name__}: {exc}") from None

    async def start(self) -> None:
        try:
            await self._call("connect", self._producer.start)
        except BaseException:
            await self._producer.stop()  # a failed start leaves its connections open
            raise

    async def _produce(self, messages: Sequence[KafkaMessage]) -> None:
        send = self._producer.send
        deliveries = [
            await send(m.topic, value=m.value, key=m.key, headers=list(m.headers)) for m in messages
        ]
        await self._producer.flush()
        await asyncio.gather(*deliveries)

    async def produce(self, messages: Sequence[KafkaMessage]) -> None:
        await self._call("produce", lambda: self._produce(messages))

    async def begin_transaction(self) -> None:
        await self._call("begin transaction", self._producer.begin_transaction)

    async def commit_transaction(self) -> None:
        await self._call("commit transaction", self._producer.commit_transaction)

    async def abort_transaction(self) -> None:
        await self._call("abort transaction", self._producer.abort_transaction)

    async def stop(self) -> None:
        await self._call("close", self._producer.stop)


class KafkaSink(BaseSink):
    """Produces each record to ``topic`` (``{source}`` is replaced by the record's source name)
    on the brokers ``bootstrap_servers`` (``"host:9092"``, a comma-separated list or a list).

    Message key: the record key; value: the record as JSON; header ``source``. ``acks=all``
    always; ``idempotence`` (default on) needs a broker with ``InitProducerId``;
    ``transactional_id`` makes each page a transaction. Security: ``security_protocol``
    (``PLAINTEXT``, ``SSL``, ``SASL_PLAINTEXT``, ``SASL_SSL``), ``sasl_mechanism`` (``PLAIN``,
    ``SCRAM-SHA-256``, ``SCRAM-SHA-512``) with ``sasl_username`` / ``sasl_password`` (masked
    everywhere), ``ssl_ca_file`` / ``ssl_cert_file`` / ``ssl_key_file``. A page that the brokers
    do not acknowledge within ``timeout`` seconds raises :class:`SinkError`, so the checkpoint
    is not saved. ``producer`` replaces the aiokafka producer (a :class:`KafkaProducer`
    factory). Not queryable.
    """

    name = "kafka"

    def __init__(
        self,
        bootstrap_servers: str | Sequence[str],
        topic: str,
        *,
        client_id: str = "collectorkit",
        idempotence: bool = True,
        transactional_id: str | None = None,
        security_protocol: str = "PLAINTEXT",
        sasl_mechanism: str | None = None,
        sasl_username: str | None = None,
        sasl_password: str | None = None,
        ssl_ca_file: str | None = None,
        ssl_cert_file: str | None = None,
        ssl_key_file: str | None = None,
        compression: str = "none",
        linger_ms: int = 5,
        timeout: float = 30.0,
        producer: ProducerFactory | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        servers = (
            [s.strip() for s in bootstrap_servers.split(",") if s.strip()]
            if isinstance(bootstrap_servers, str)
            else list(bootstrap_servers)
        )
        if not servers or not all(":" in s for s in servers):
            raise ConfigError(
                f"expected host:port[,host:port…], got {bootstrap_servers!r}",
                path="bootstrap_servers",
            )
        if not topic:
            raise ConfigError("the topic is required", path="topic")
        check_choice(security_protocol, _SECURITY, "security_protocol")
        check_choice(compression, _COMPRESSION, "compression")
        if sasl_mechanism is not None:
            check_choice(sasl_mechanism, _SASL, "sasl_mechanism")
            if not security_protocol.startswith("SASL_"):
                raise ConfigError(
                    f"SASL needs security_protocol SASL_PLAINTEXT or SASL_SSL, "
                    f"got {security_protocol!r}",
                    path="security_protocol",
                )
        elif security_protocol.startswith("SASL_"):
            raise ConfigError(f"{security_protocol} needs sasl_mechanism", path="sasl_mechanism")
        if timeout <= 0:
            raise ConfigError(f"must be > 0 seconds, got {timeout!r}", path="timeout")
        register_secret(sasl_password)
        self.bootstrap_servers = servers
        self.topic = topic
        self.transactional = transactional_id is not None
        self.timeout = timeout
        self.settings = KafkaSettings(
            bootstrap_servers=tuple(servers),
            client_id=client_id,
            idempotence=idempotence,
            transactional_id=transactional_id,
            security_protocol=security_protocol,
            sasl_mechanism=sasl_mechanism,
            sasl_username=sasl_username,
            sasl_password=sasl_password,
            ssl_context=_ssl_context(security_protocol, ssl_ca_file, ssl_cert_file, ssl_key_file),
            compression=compression,
            linger_ms=linger_ms,
            timeout=timeout,
        )
        if producer is None and importlib.util.find_spec("aiokafka") is None:
            raise ConfigError(_NO_AIOKAFKA, path="type")  # said by `validate`, not at first use
        self._factory: ProducerFactory = producer or _AIOKafkaProducer
        self._producer: KafkaProducer | None = None
        self._turn: asyncio.Lock | None = None  # one transaction at a time on the producer

    def __repr__(self) -> str:
        return f"KafkaSink({','.join(self.bootstrap_servers)!r}, topic={self.topic!r})"

    @property
    def location(self) -> str:
        return f"kafka://{','.join(self.bootstrap_servers)}/{self.topic}"

    async def _open(self) -> None:
        self._turn = asyncio.Lock()  # made on the loop that uses it (sync calls bring their own)
        producer = self._factory(self.settings)
        await self._guard("connect", producer.start())
        self._producer = producer

    async def _close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await self._guard("close", producer.stop())

    async def _guard(self, what: str, work: Awaitable[Any]) -> Any:
        """``work`` within the timeout; failures as :class:`SinkError` naming the sink."""
        try:
            return await asyncio.wait_for(work, self.timeout)
        except TimeoutError:
            raise SinkError(
                f"kafka {self.name}: {what} at {self.location}: no answer in {self.timeout:g} s"
            ) from None
        except SinkError as exc:
            raise SinkError(f"kafka {self.name}: {what} at {self.location}: {exc}") from None

    def _message(self, envelope: Envelope) -> KafkaMessage:
        return KafkaMessage(
            self.topic.replace("{source}", envelope.source),
            envelope.key.encode(),
            dump_json(envelope.data),
            (("source", envelope.source.encode()),),
        )

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        producer = self._producer
        if producer is None:  # pragma: no cover - store() connects first
            raise SinkError(f"kafka {self.name}: not connected")
        messages = list(map(self._message, batch))
        if not self.transactional:
            await self._guard("produce", producer.produce(messages))
            return result_for(self, self.location, batch, len(batch))
        if self._turn is None:  # pragma: no cover - store() connects first
            self._turn = asyncio.Lock()
        async with self._turn:  # a producer has one open transaction: pages take turns
            await self._guard("begin transaction", producer.begin_transaction())
            try:
                await self._guard("produce", producer.produce(messages))
                await self._guard("commit transaction", producer.commit_transaction())
            except SinkError:
                await self._guard("abort transaction", producer.abort_transaction())
                raise
        return result_for(self, self.location, batch, len(batch))

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        return []

    async def delete(self, location_id: str) -> bool:
        return False


def _ssl_context(
    protocol: str, ca: str | None, cert: str | None, key: str | None
) -> ssl.SSLContext | None:
    if protocol.endswith("SSL"):
        return client_tls_context(ca_file=ca, cert_file=cert, key_file=key, field="ssl_ca_file")
    if ca or cert or key:
        raise ConfigError("TLS files need security_protocol SSL or SASL_SSL", path="ssl_ca_file")
    return None
