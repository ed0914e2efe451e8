"""OpenSearch / Elasticsearch sink: ``_bulk`` ``create`` with ``_id`` = the record key.

A record already indexed answers 409 (version conflict) and counts as a duplicate, so a page
fetched again after a crash writes nothing twice. Items refused with 429 or 5xx are sent again,
alone, after a backoff (``retry``, a :class:`~collectorkit.RetryPolicy`); a whole request refused
that way too. An item the index cannot take (400: ``mapper_parsing_exception`` …) goes to the
dead-letter sink with the server's reason and does not hold the page back; any other refusal
(401, 403, a read-only index …) fails the store, so the page is not checkpointed.

The client is the official ``opensearch-py`` (async), behind :class:`BulkClient`, the four calls
the sink makes.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from collectorkit._errors import ConfigError, SinkError
from collectorkit._instants import instant_or_none
from collectorkit._records import Envelope, lookup_path
from collectorkit._redact import redact_url, register_secret
from collectorkit.http import RetryPolicy
from collectorkit.pipeline import DeadLetter
from collectorkit.sinks._base import BaseSink, json_default, match_criteria
from collectorkit.sinks._simple import DeadLetterSink
from collectorkit.typing import QueryCriteria, Sink, StoreResult

__all__ = ["BulkClient", "OpenSearchSink"]

_log = logging.getLogger(__name__)
_MAX_ID_BYTES = 512
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_DEFAULT_RETRY = RetryPolicy(max_attempts=5, initial_delay=0.5, max_delay=10.0)


class BulkRequestError(Exception):
    """A request the server (or the network) refused as a whole; ``status`` 0: no answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status or 'no answer'}: {detail}")
        self.status = status


class BulkClient(Protocol):
    """What the sink needs of a search-engine client; raises :class:`BulkRequestError`."""

    async def bulk(self, body: bytes) -> Mapping[str, Any]: ...

    async def search(self, index: str, body: Mapping[str, Any]) -> Mapping[str, Any]: ...

    async def delete(self, index: str, doc_id: str) -> bool: ...

    async def aclose(self) -> None: ...


class _OpenSearchPy:
    """:class:`BulkClient` on ``opensearchpy.AsyncOpenSearch``: its exceptions are translated
    here, and nowhere else."""

    def __init__(
        self, url: str, *, headers: dict[str, str], auth: Any, verify: bool, timeout: float
    ):
        try:
            from opensearchpy import AsyncOpenSearch
        except ImportError:
            raise ConfigError(
                "the opensearch sink needs opensearch-py: pip install 'collectorkit[opensearch]'",
                path="type",
            ) from None
        self._client = AsyncOpenSearch(
            hosts=[url],
            http_auth=auth,
            headers=headers,
            verify_certs=verify,
            ssl_show_warn=False,
            timeout=timeout,
            max_retries=0,  # the sink retries, item by item
            http_compress=True,
        )

    async def _call(self, work: Any) -> Any:
        from opensearchpy.exceptions import ConnectionError as NoAnswer
        from opensearchpy.exceptions import NotFoundError, TransportError

        try:
            return await work
        except NotFoundError:
            return None
        except NoAnswer as exc:
            raise BulkRequestError(0, type(exc).__name__) from None
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            raise BulkRequestError(status, str(exc.error)) from None

    async def bulk(self, body: bytes) -> Mapping[str, Any]:
        result = await self._call(self._client.bulk(body=body))
        return result if isinstance(result, Mapping) else {}

    async def search(self, index: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        await self._call(self._client.indices.refresh(index=index, ignore_unavailable=True))
        result = await self._call(self._client.search(index=index, body=body))
        return result if isinstance(result, Mapping) else {}

    async def delete(self, index: str, doc_id: str) -> bool:
        return await self._call(self._client.delete(index=index, id=doc_id)) is not None

    async def aclose(self) -> None:
        await self._client.close()


@dataclass(slots=True)
class _Outcome:
    written: int = 0
    duplicates: int = 0
    dead: list[DeadLetter] = field(default_factory=list)


def _doc_id(key: str) -> str:
    if len(key.encode()) <= _MAX_ID_BYTES:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class OpenSearchSink(BaseSink):
    """Records as documents of ``index`` on the OpenSearch (or Elasticsearch) cluster at ``url``.

    Needs ``pip install 'collectorkit[opensearch]'``. ``index`` may hold ``strftime`` codes
    (``events-%Y.%m.%d``), filled from the record's ``time_field`` (a dotted path; required
    then): a record without a readable timestamp goes to dead-letter. Auth: ``username`` +
    ``password`` (basic) or ``api_key`` (``Authorization: ApiKey …``). ``bulk_size`` records per
    ``_bulk`` request. Items the index refuses (400) go to ``dead_letter`` (a sink's options,
    e.g. ``{type: jsonl, path: dead.jsonl}``; in code also ``dead_letter_sink``), else to the
    run's dead letter (:meth:`adopt_dead_letter`: the daemon and ``once`` hand theirs over) or,
    in a bare library use, an in-memory one and the log. ``client`` replaces the opensearch-py
    client.
    """

    name = "opensearch"

    def __init__(
        self,
        url: str,
        *,
        index: str = "collectorkit-events",
        time_field: str | None = None,
        username: str | None = None,
        password: str | None = None,
        api_key: str | None = None,
        verify: bool = True,
        timeout: float = 30.0,
        bulk_size: int = 500,
        retry: RetryPolicy | None = None,
        dead_letter: Mapping[str, Any] | None = None,
        dead_letter_sink: Sink | None = None,
        client: BulkClient | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"expected an http(s) URL, got {redact_url(url)!r}", path="url")
        sample = datetime(2001, 2, 3, tzinfo=UTC).strftime(index)
        if not index or sample != sample.lower() or any(c in sample for c in ' "*\\<|,>/?#:'):
            raise ConfigError(f"not a valid index name: {index!r} (lowercase)", path="index")
        if "%" in index and not time_field:
            raise ConfigError(f"index {index!r} has date codes: set time_field", path="time_field")
        if bulk_size < 1:
            raise ConfigError(f"must be >= 1, got {bulk_size!r}", path="bulk_size")
        if password and not username:
            raise ConfigError("password without username", path="username")
        self.url = url
        self.index = index
        self.time_field = time_field
        self.bulk_size = bulk_size
        self.retry = retry or _DEFAULT_RETRY
        for secret in (password, api_key):
            register_secret(secret)
        headers = {"Authorization": f"ApiKey {api_key}"} if api_key else {}
        auth = (username, password or "") if username else None
        self._connect: Callable[[], BulkClient] = functools.partial(
            _OpenSearchPy, url, headers=headers, auth=auth, verify=verify, timeout=timeout
        )
        self._client = client
        if dead_letter is not None and dead_letter_sink is None:
            from collectorkit.sinks._registry import build_sink  # the registry imports us

            dead_letter_sink = build_sink(dead_letter, path="dead_letter")
        self.dead_letter = DeadLetterSink(dead_letter_sink)
        self._own_dead_letter = dead_letter_sink is not None
        self._adopted = False

    def adopt_dead_letter(self, sink: Sink) -> bool:
        """Send refused records to ``sink`` (the run's dead letter, opened and closed by the run)
        when this sink was given none of its own; ``True`` when it took it."""
        if self._own_dead_letter:
            return False
        self.dead_letter = DeadLetterSink(sink)
        self._adopted = True
        return True

    def __repr__(self) -> str:
        return f"OpenSearchSink({redact_url(self.url)!r}, index={self.index!r})"

    @property
    def location(self) -> str:
        return f"{redact_url(self.url)}/{self.index}"

    async def _open(self) -> None:
        if self._client is None:
            self._client = self._connect()
        if not self._adopted:  # the run's dead letter opens on its first record
            await self.dead_letter.connect()

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        if not self._adopted:  # the run closes its own
            await self.dead_letter.aclose()

    def _index_of(self, envelope: Envelope) -> str | None:
        if "%" not in self.index:
            return self.index
        assert self.time_field is not None
        when = instant_or_none(lookup_path(envelope.data, self.time_field))
        return None if when is None else when.strftime(self.index)

    def _body(self, items: list[tuple[str, Envelope]]) -> bytes:
        lines: list[bytes] = []
        for index, e in items:
            lines.append(orjson.dumps({"create": {"_index": index, "_id": _doc_id(e.key)}}))
            lines.append(orjson.dumps(e.data, default=json_default))
        return b"\n".join(lines) + b"\n"

    def _letter(self, e: Envelope, reason: str) -> DeadLetter:
        return DeadLetter(reason=reason, payload=e.data, processor=self.name, source=e.source)

    async def _send(self, items: list[tuple[str, Envelope]], out: _Outcome) -> None:
        """Bulk-create ``items``, sending again those refused with 429/5xx."""
        assert self._client is not None
        dead = out.dead
        pending, last = items, ""
        for attempt in range(self.retry.max_attempts):
            if attempt:
                await asyncio.sleep(self.retry.backoff(attempt - 1, rand=random.random()))
            try:
                answer = await self._client.bulk(self._body(pending))
            except BulkRequestError as exc:
                if exc.status and exc.status not in _RETRY_STATUSES:
                    raise self._error(f"bulk request refused: {exc}") from None
                last = f"bulk request: {exc}"
                continue
            results = [next(iter(i.values())) for i in answer.get("items", [])]
            if len(results) != len(pending):
                raise self._error(f"bulk answered {len(results)} items for {len(pending)}")
            again: list[tuple[str, Envelope]] = []
            for item, result in zip(pending, results, strict=True):
                status = int(result.get("status", 0))
                if status in (200, 201):
                    out.written += 1
                elif status == 409:
                    out.duplicates += 1
                elif status in _RETRY_STATUSES:
                    again.append(item)
                    last = _reason(result)
                elif status == 400:
                    dead.append(self._letter(item[1], f"{item[0]}: {_reason(result)}"))
                else:
                    raise self._error(f"index {item[0]} refused a document: {_reason(result)}")
            pending = again
            if not pending:
                return
        raise self._error(
            f"{len(pending)} record(s) still refused after {self.retry.max_attempts} "
            f"attempts: {last}"
        )

    def _error(self, what: str) -> SinkError:
        return SinkError(f"opensearch sink {self.name!r} ({redact_url(self.url)}): {what}")

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        out = _Outcome()
        items: list[tuple[str, Envelope]] = []
        for e in batch:
            index = self._index_of(e)
            if index is None:
                reason = f"no timestamp at {self.time_field!r} for index {self.index!r}"
                out.dead.append(self._letter(e, reason))
            else:
                items.append((index, e))
        for start in range(0, len(items), self.bulk_size):
            await self._send(items[start : start + self.bulk_size], out)
        if out.dead:
            await self._dead_letters(out.dead)
        return StoreResult(
            location=self.location,
            written=out.written,
            duplicates=out.duplicates,
            location_id=batch[0].key if len(batch) == 1 else "",
            backend_id=self.name,
        )

    async def _dead_letters(self, letters: list[DeadLetter]) -> None:
        for letter in letters:
            _log.error(
                "%s: %s record sent to dead-letter: %s", self.name, letter.source, letter.reason
            )
        await self.dead_letter.put(letters)

    def _pattern(self) -> str:
        """The index pattern that covers every index this sink writes."""
        import re

        return re.sub(r"(%.)+", "*", self.index.replace("%%", "%"))

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        """Documents of the sink's indices (at most 10,000), then ``criteria`` in memory."""
        await self.connect()
        assert self._client is not None
        body = {"size": 10_000, "query": {"match_all": {}}}
        try:
            answer = await self._client.search(self._pattern(), body)
        except BulkRequestError as exc:
            raise self._error(f"search failed: {exc}") from None
        hits = answer.get("hits", {}).get("hits", [])
        found = [Envelope(h["_id"].partition(":")[0], h["_id"], h["_source"]) for h in hits]
        return match_criteria(found, criteria or QueryCriteria())

    async def delete(self, location_id: str) -> bool:
        """Delete the document of record key ``location_id``, in whichever index holds it."""
        await self.connect()
        assert self._client is not None
        try:
            ids = {"query": {"ids": {"values": [_doc_id(location_id)]}}}
            for hit in (await self._client.search(self._pattern(), ids))["hits"]["hits"]:
                return await self._client.delete(hit["_index"], hit["_id"])
        except BulkRequestError as exc:
            raise self._error(f"delete failed: {exc}") from None
        return False


def _reason(result: Mapping[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, Mapping):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, Mapping):
            text += f" ({cause.get('type')}: {cause.get('reason')})"
        return text
    return str(error or result.get("status"))
