"""Splunk HTTP Event Collector (HEC) with indexer acknowledgement: a destination, not a source.

``POST /services/collector/event`` (also ``/services/collector`` and ``…/event/1.0``) takes one
or more JSON event objects, concatenated (``{"time", "host", "source", "sourcetype", "index",
"event", "fields"}``; ``event`` is required), with ``Authorization: Splunk <token>`` and the
channel GUID in the ``X-Splunk-Request-Channel`` header or the ``channel`` query parameter
(required: acknowledgement is on); a body may be gzip-compressed (``Content-Encoding: gzip``).
It answers ``{"text": "Success", "code": 0, "ackId": n}``;
ack ids count from 0 per channel. ``POST /services/collector/ack?channel=…`` with ``{"acks":
[ids]}`` answers ``{"acks": {"id": true|false}}``: true once the request's events are indexed,
and an id reported true is released (asking again answers false). Errors are ``{"text",
"code"}`` with HEC's codes (2 token required, 3 invalid authorization, 4 invalid token, 5 no
data, 6 invalid data format, 8 internal error, 9 server is busy, 10 channel missing, 11 invalid
channel, 12/13 event field required/blank).

Faults particular to this profile (fired by the event request unless said otherwise):
``ack_delay`` (the events are indexed, and acknowledged, ``delay`` seconds later on the
simulator clock), ``ack_lost`` (accepted with an ack id, never indexed, never acknowledged) and,
on an ack query, ``ack_refused`` (400 "Invalid data channel": the server dropped the channel and
every pending ack id on it; events not yet indexed are gone). ``server_error`` answers in HEC's
shape (503 → code 9 "Server is busy"). :meth:`SplunkHECAPI.indexed` is the ledger of indexed
events.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from collectorkit.simulator._config import ProfileConfig
from collectorkit.simulator._dataset import Dataset, StoredRecord
from collectorkit.simulator._engine import Endpoint, Reply, RequestContext, VendorAPI, VendorError

__all__ = ["SplunkHECAPI"]

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_MESSAGES = {
    2: "Token is required",
    3: "Invalid authorization",
    4: "Invalid token",
    5: "No data",
    6: "Invalid data format",
    8: "Internal server error",
    9: "Server is busy",
    10: "Data channel is missing",
    11: "Invalid data channel",
    12: "Event field is required",
    13: "Event field cannot be blank",
}


@dataclass(slots=True)
class _Pending:
    """The events of one acknowledged-later request: indexed at ``due`` (``None``: never)."""

    events: list[dict[str, Any]]
    due: float | None


@dataclass(slots=True)
class _Channel:
    next_id: int = 0
    pending: dict[int, _Pending] = field(default_factory=dict)


def _parse_events(body: bytes) -> list[Any]:
    """Concatenated JSON values, whitespace allowed between them."""
    text = body.decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    events: list[Any] = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return events
        value, i = decoder.raw_decode(text, i)  # ValueError on a bad or truncated event
        events.append(value)


class SplunkHECAPI(VendorAPI):
    """An HEC endpoint with indexer acknowledgement (token ``sim-splunk_hec-token``)."""

    kind = "splunk_hec"
    id_field = "id"

    def __init__(self, profile: ProfileConfig, dataset: Dataset, rng: random.Random) -> None:
        # a destination serves no records: whatever ``records`` says, its dataset is empty
        empty = Dataset(factory=self.make_fields, id_field=self.id_field, rng=rng)
        super().__init__(profile, empty, rng)
        self.channels: dict[str, _Channel] = {}
        self._indexed: list[dict[str, Any]] = []
        self._waiting: list[_Pending] = []  # accepted, to be indexed later (ack_delay)

    @staticmethod
    def make_fields(rng: random.Random, index: int) -> dict[str, Any]:
        return {"id": f"hec-{index}"}  # a destination serves no records

    def render(self, rec: StoredRecord) -> dict[str, Any]:
        return {"id": rec.id}

    def endpoints(self) -> list[Endpoint]:
        event_paths = (
            "/services/collector/event",
            "/services/collector",
            "/services/collector/event/1.0",
        )
        return [
            Endpoint("event", event_paths, ("POST",), self.event),
            Endpoint("ack", ("/services/collector/ack",), ("POST",), self.ack),
        ]

    # -- the ledger -------------------------------------------------------------------------
    def indexed(self, now: float | None = None) -> list[dict[str, Any]]:
        """Every event indexed so far (a repeated delivery appears as often as it was indexed)."""
        if now is not None:
            self._settle(now)
        return list(self._indexed)

    def indexed_counts(self, field_name: str, now: float | None = None) -> Counter[str]:
        """How many times each value of the indexed field ``fields.<field_name>`` was indexed."""
        return Counter(
            str(e.get("fields", {}).get(field_name)) for e in self.indexed(now) if "fields" in e
        )

    def _settle(self, now: float) -> None:
        """Index the delayed requests whose time has come (a dropped channel's are gone)."""
        if not self._waiting:
            return
        still: list[_Pending] = []
        for pending in self._waiting:
            if pending.due is None or pending.due > now:
                still.append(pending)
            elif pending.events:
                self._indexed.extend(pending.events)
                pending.events = []
        self._waiting = still

    # -- dialect ----------------------------------------------------------------------------
    def error(self, status: int, code: str, message: str) -> Reply:
        number = int(code) if code.isdigit() else 8
        return Reply(status, {"text": message or _MESSAGES.get(number, "Error"), "code": number})

    def _fail(self, status: int, code: int) -> VendorError:
        return VendorError(self.error(status, str(code), _MESSAGES[code]))

    def server_error_reply(self, status: int) -> Reply:
        return self.error(status, "9" if status == 503 else "8", "")

    def unauthorized_reply(self, *, expired: bool) -> Reply:
        return self.error(403, "4", "")

    def authenticate(self, ctx: RequestContext) -> Reply | None:
        header = ctx.request.headers.get("authorization")
        if not header:
            return self.error(401, "2", "")
        scheme, _, token = header.partition(" ")
        if scheme != "Splunk" or not token.strip():
            return self.error(401, "3", "")
        ctx.token = token.strip()
        return None if self.token_ok(ctx.token, ctx.now) else self.error(403, "4", "")

    def _channel(self, ctx: RequestContext) -> _Channel:
        name = ctx.request.headers.get("x-splunk-request-channel") or ctx.query.get("channel")
        if not name:
            raise self._fail(400, 10)
        if not _GUID.match(name):
            raise self._fail(400, 11)
        return self.channels.setdefault(name.lower(), _Channel())

    # -- handlers ---------------------------------------------------------------------------
    def event(self, ctx: RequestContext) -> Reply:
        channel = self._channel(ctx)
        body = ctx.body
        try:
            if ctx.request.headers.get("content-encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
        except (OSError, EOFError):
            raise self._fail(400, 6) from None
        if not body.strip():
            raise self._fail(400, 5)
        try:
            events = _parse_events(body)
        except ValueError:
            raise self._fail(400, 6) from None
        for e in events:
            if not isinstance(e, dict) or "event" not in e:
                raise self._fail(400, 12)
            if e["event"] in ("", None, {}):
                raise self._fail(400, 13)
        self._settle(ctx.now)
        due: float | None = ctx.now
        if ctx.apply("ack_lost") is not None:
            due = None
        else:
            delayed = ctx.apply("ack_delay")
            if delayed is not None:
                due = ctx.now + delayed.delay
        ack_id = channel.next_id
        channel.next_id += 1
        pending = _Pending(events, due)
        channel.pending[ack_id] = pending
        if due == ctx.now:
            self._indexed.extend(events)
            pending.events = []
        elif due is not None:
            self._waiting.append(pending)
        return Reply(200, {"text": "Success", "code": 0, "ackId": ack_id})

    def ack(self, ctx: RequestContext) -> Reply:
        channel = self._channel(ctx)
        doc = ctx.json()
        ids = doc.get("acks") if isinstance(doc, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise self._fail(400, 6)
        self._settle(ctx.now)
        if ctx.apply("ack_refused") is not None:
            for dropped in channel.pending.values():
                dropped.events = []  # not indexed yet: lost with the channel
            channel.pending.clear()
            raise self._fail(400, 11)
        out: dict[str, bool] = {}
        for ack_id in ids:
            pending = channel.pending.get(ack_id)
            done = pending is not None and pending.due is not None and pending.due <= ctx.now
            if done:
                del channel.pending[ack_id]  # reported once, then released
            out[str(ack_id)] = done
        return Reply(200, {"acks": out})
