"""Splunk HTTP Event Collector sink with indexer acknowledgement: at-least-once.

HEC has no idempotent write: an event sent twice is indexed twice. What it has is indexer
acknowledgement: each POST to ``/services/collector/event`` on a channel returns an ``ackId``,
and ``/services/collector/ack`` says when that request's events are indexed. This sink counts a
page as stored only when every request of it is acknowledged, so the checkpoint is saved after
the events are in the index. A request whose ack does not come within ``ack_timeout`` (lost),
or whose channel the server refuses on an ack query, is sent again: records are never lost, and
may be indexed twice (each event carries the record key in the indexed field ``record_key``,
so a search can drop repeats: ``| dedup record_key``).

Every request goes through an :class:`~collectorkit.APIClient`: a 503 "Server is busy" (or a
reset) is retried with backoff per ``retry``; the token is masked in every error and repr.
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Mapping
from typing import Any

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import (
    ClientRequestError,
    ConfigError,
    HTTPError,
    ResponseDecodeError,
    SinkError,
)
from collectorkit._instants import instant_or_none
from collectorkit._records import Envelope, lookup_path
from collectorkit._redact import register_secret
from collectorkit.http import (
    APIClient,
    ClientMetrics,
    ClientSettings,
    Response,
    RetryPolicy,
    Transport,
    redact_url,
)
from collectorkit.sinks._base import BaseSink, dump_json, result_for
from collectorkit.typing import QueryCriteria, StoreResult

__all__ = ["SplunkHECSink"]

_EVENT_PATH = "/services/collector/event"
_ACK_PATH = "/services/collector/ack"
_MAX_POLL_INTERVAL = 5.0


class SplunkHECSink(BaseSink):
    """Sends records to a Splunk HEC endpoint (``url`` is its base, e.g. ``https://splunk:8088``)
    in requests of at most ``batch_size`` events, and waits for the indexer acknowledgement.

    Each event is ``{"time", "host", "source", "sourcetype", "index", "event": record,
    "fields": {"record_key": key}}``; ``time`` is read from the record's ``time_field`` (a
    dotted path; ISO 8601 or epoch values) and left out when absent (Splunk then uses the
    arrival time). ``source`` defaults to the record's source name; ``{source}`` in ``source``,
    ``sourcetype`` or ``index`` stands for it. ``channel`` is the HEC channel GUID (a new one per
    sink when not given). ``gzip`` compresses each request (``Content-Encoding: gzip``).

    Acknowledgement: after sending a page, its ack ids are polled every ``ack_poll_interval``
    seconds (doubling, at most 5 s) for up to ``ack_timeout`` seconds; requests not acknowledged
    by then are sent again, at most ``max_resends`` times, after which :class:`SinkError` is
    raised and the checkpoint is not saved. ``ack=False`` (a token without acknowledgement)
    counts a 200 as stored. Not queryable.
    """

    name = "splunk_hec"

    def __init__(
        self,
        url: str,
        *,
        token: str,
        index: str | None = None,
        sourcetype: str = "_json",
        source: str | None = None,
        host: str | None = None,
        channel: str | None = None,
        time_field: str | None = None,
        batch_size: int = 100,
        gzip: bool = False,
        ack: bool = True,
        ack_timeout: float = 60.0,
        ack_poll_interval: float = 0.5,
        max_resends: int = 3,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        verify: bool = True,
        transport: Transport | None = None,
        clock: Clock | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"expected an http(s) URL, got {redact_url(url)!r}", path="url")
        if not token:
            raise ConfigError("the HEC token is required", path="token")
        if batch_size < 1:
            raise ConfigError(f"must be >= 1, got {batch_size!r}", path="batch_size")
        if max_resends < 0:
            raise ConfigError(f"must be >= 0, got {max_resends!r}", path="max_resends")
        for field, value in (
            ("ack_timeout", ack_timeout),
            ("ack_poll_interval", ack_poll_interval),
        ):
            if value <= 0:
                raise ConfigError(f"must be > 0 seconds, got {value!r}", path=field)
        self.channel = str(uuid.uuid4()) if channel is None else _check_channel(channel)
        register_secret(token)
        self.url = url.rstrip("/")
        self.index, self.sourcetype, self.source, self.host = index, sourcetype, source, host
        self.time_field = time_field
        self.batch_size = batch_size
        self.gzip = gzip
        self.ack = ack
        self.ack_timeout = ack_timeout
        self.ack_poll_interval = ack_poll_interval
        self.max_resends = max_resends
        self.resent = 0
        """Requests sent again because their acknowledgement was lost or refused."""
        self.clock: Clock = clock or SystemClock()
        self.client = APIClient(
            ClientSettings(name=f"splunk_hec {self.name}", verify_ssl=verify),
            base_url=self.url,
            retry=retry,
            timeout=timeout,
            headers={"Authorization": f"Splunk {token}", "X-Splunk-Request-Channel": self.channel},
            transport=transport,
            clock=self.clock,
        )

    def __repr__(self) -> str:
        return f"SplunkHECSink({redact_url(self.url)!r}, index={self.index!r})"

    @property
    def location(self) -> str:
        return redact_url(self.url)

    @property
    def metrics(self) -> ClientMetrics:
        """Requests, retries, failures and response times of this sink's event and ack calls."""
        return self.client.metrics

    async def _close(self) -> None:
        await self.client.aclose()

    # -- events -----------------------------------------------------------------------------
    def _event(self, envelope: Envelope) -> dict[str, Any]:
        event: dict[str, Any] = {}
        if self.time_field is not None:
            when = instant_or_none(lookup_path(envelope.data, self.time_field))
            if when is not None:
                event["time"] = round(when.timestamp(), 3)
        if self.host is not None:
            event["host"] = self.host
        name = envelope.source
        event["source"] = name if self.source is None else self.source.replace("{source}", name)
        event["sourcetype"] = self.sourcetype.replace("{source}", name)
        if self.index is not None:
            event["index"] = self.index.replace("{source}", name)
        event["event"] = envelope.data
        event["fields"] = {"record_key": envelope.key}
        return event

    def _body(self, chunk: list[Envelope]) -> bytes:
        return b"\n".join(dump_json(self._event(e)) for e in chunk)

    async def _send(self, chunk: list[Envelope]) -> int | None:
        """POST one request; its ack id (``None`` without acknowledgement)."""
        headers = {"Content-Type": "application/json"}
        body = self._body(chunk)
        if self.gzip:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        try:
            response = await self.client.post(_EVENT_PATH, data=body, headers=headers)
        except HTTPError as exc:  # redacted by the client and the registered token
            raise SinkError(f"splunk_hec {self.name}: {exc}") from exc
        if not self.ack:
            return None
        ack_id = _answer_field(response, "ackId")
        if not isinstance(ack_id, int):
            raise SinkError(
                f"splunk_hec {self.name}: {redact_url(self.url)} answered without an ackId; "
                "enable indexer acknowledgement on the token or set ack: false"
            )
        return ack_id

    # -- acknowledgements -------------------------------------------------------------------
    async def _acked(self, ids: list[int]) -> set[int] | None:
        """The ids among ``ids`` the indexer acknowledges now; ``None`` when it refuses the
        query (an unknown channel: its pending acks are gone)."""
        try:
            response = await self.client.post(_ACK_PATH, json={"acks": ids})
        except ClientRequestError:
            return None
        except HTTPError as exc:
            raise SinkError(f"splunk_hec {self.name}: acknowledgement query: {exc}") from exc
        acks = _answer_field(response, "acks")
        if not isinstance(acks, Mapping):
            return set()
        return {int(k) for k, v in acks.items() if v is True and str(k).isdigit()}

    async def _wait(self, sent: dict[int, list[Envelope]]) -> list[list[Envelope]]:
        """Poll until every request in ``sent`` is acknowledged; what is not, by the timeout."""
        deadline = self.clock.monotonic() + self.ack_timeout
        delay = self.ack_poll_interval
        while sent:
            acked = await self._acked(sorted(sent))
            if acked is None:
                break
            for ack_id in acked:
                sent.pop(ack_id, None)
            if not sent or self.clock.monotonic() + delay > deadline:
                break
            await self.clock.sleep(delay)
            delay = min(delay * 2, _MAX_POLL_INTERVAL)
        return list(sent.values())

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        todo = [batch[i : i + self.batch_size] for i in range(0, len(batch), self.batch_size)]
        for attempt in range(self.max_resends + 1):
            if attempt:
                self.resent += len(todo)
            sent: dict[int, list[Envelope]] = {}
            for chunk in todo:
                ack_id = await self._send(chunk)
                if ack_id is not None:
                    sent[ack_id] = chunk
            todo = await self._wait(sent)
            if not todo:
                return result_for(self, self.location, batch, len(batch))
        events = sum(map(len, todo))
        raise SinkError(
            f"splunk_hec {self.name}: {events} events not acknowledged by the indexer within "
            f"{self.ack_timeout:g} s, {self.max_resends} resends; the page will be sent again"
        )

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        return []

    async def delete(self, location_id: str) -> bool:
        return False


def _check_channel(channel: str) -> str:
    try:
        return str(uuid.UUID(channel))
    except ValueError:
        raise ConfigError(f"expected a GUID, got {channel!r}", path="channel") from None


def _answer_field(response: Response, name: str) -> Any:
    """``name`` of the JSON object HEC answered, or ``None`` (not JSON, not an object)."""
    try:
        doc = response.json()
    except ResponseDecodeError:
        return None
    return doc.get(name) if isinstance(doc, dict) else None
