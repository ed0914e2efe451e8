"""HTTP webhook sink: batched POST of JSON or NDJSON, optionally gzip-compressed.

Every POST goes through an :class:`~collectorkit.APIClient`: the retry policy (a 503 or a reset
is retried before the batch fails), the auth handler, the cross-origin rule (credentials never
follow a redirect to another host), timeouts, redacted errors and :attr:`WebhookSink.metrics`.

Idempotency: each request carries an ``Idempotency-Key`` header (a hash of its records' keys)
and every record its key, so a receiver can drop a repeated delivery; with ``index_path`` the
sink also remembers delivered keys itself and never re-sends a record it had delivered.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from collectorkit._clock import Clock
from collectorkit._errors import ConfigError, HTTPError, SinkError
from collectorkit._records import Envelope
from collectorkit.http import (
    APIClient,
    AuthHandler,
    ClientMetrics,
    ClientSettings,
    RetryPolicy,
    Transport,
    redact_url,
)
from collectorkit.sinks._base import BaseSink, dump_json, result_for
from collectorkit.typing import QueryCriteria, StoreResult

__all__ = ["WebhookSink"]

_FORMATS = ("json", "ndjson")


class WebhookSink(BaseSink):
    """POSTs records to ``url`` in requests of at most ``batch_size`` records.

    ``format="json"`` sends ``[{"key", "source", "data"}, …]``; ``"ndjson"`` one such object per
    line. A response outside 2xx (or no response) raises :class:`SinkError`, so the delivery
    loop does not checkpoint and the page is delivered again later — after ``retry``
    (a :class:`~collectorkit.RetryPolicy`, default: the client's) has had its attempts.
    Credentials come from ``auth`` (any auth handler) or ``headers``; neither they nor secrets in
    the URL's query are shown in reprs or errors. ``transport`` replaces the HTTP transport
    (e.g. a mock in tests). Not queryable.
    """

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        format: str = "json",
        gzip: bool = False,
        batch_size: int = 500,
        headers: Mapping[str, str] | None = None,
        auth: AuthHandler | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        verify: bool = True,
        transport: Transport | None = None,
        clock: Clock | None = None,
        index_path: str | Path | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if format not in _FORMATS:
            raise ConfigError(
                f"expected one of {', '.join(_FORMATS)}; got {format!r}", path="format"
            )
        if batch_size < 1:
            raise ConfigError(f"must be >= 1, got {batch_size!r}", path="batch_size")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"expected an http(s) URL, got {redact_url(url)!r}", path="url")
        self.url = url
        self.format = format
        self.gzip = gzip
        self.batch_size = batch_size
        self._headers = dict(headers or {})
        # the query travels as parameters, so that a secret in it is masked like any parameter
        parts = urlsplit(url)
        self._params = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.client = APIClient(
            ClientSettings(name=f"webhook {self.name}", verify_ssl=verify),
            base_url=urlunsplit(parts._replace(query="")),
            auth=auth,
            retry=retry,
            timeout=timeout,
            headers=self._headers,
            transport=transport,
            clock=clock,
        )
        self.index_path = None if index_path is None else str(index_path)
        self._index: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return (
            f"WebhookSink({redact_url(self.url)!r}, format={self.format!r}, "
            f"headers=<{len(self._headers)}>)"
        )

    @property
    def location(self) -> str:
        return redact_url(self.url)

    @property
    def metrics(self) -> ClientMetrics:
        """Requests, retries, failures and response times of this sink's POSTs."""
        return self.client.metrics

    async def _open(self) -> None:
        if self.index_path is not None:
            self._index = await asyncio.to_thread(self._open_index, self.index_path)

    @staticmethod
    def _open_index(path: str) -> sqlite3.Connection:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE IF NOT EXISTS sent (key TEXT PRIMARY KEY) WITHOUT ROWID")
        return db

    async def _close(self) -> None:
        await self.client.aclose()
        if self._index is not None:
            index, self._index = self._index, None
            index.close()

    def _body(self, batch: list[Envelope]) -> tuple[bytes, dict[str, str]]:
        items = [{"key": e.key, "source": e.source, "data": e.data} for e in batch]
        if self.format == "json":
            body, ctype = dump_json(items), "application/json"
        else:
            body, ctype = b"".join(dump_json(i) + b"\n" for i in items), "application/x-ndjson"
        digest = hashlib.sha256("\n".join(e.key for e in batch).encode()).hexdigest()
        headers = {"Content-Type": ctype, "Idempotency-Key": digest}
        if self.gzip:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        return body, headers

    async def _post(self, batch: list[Envelope]) -> None:
        body, headers = self._body(batch)
        try:
            response = await self.client.post("", data=body, headers=headers, params=self._params)
        except HTTPError as exc:  # redacted by the client: no secret of ours in the message
            raise SinkError(f"webhook {self.name}: {exc}") from exc
        if not 200 <= response.status_code < 300:  # a redirect the client did not follow
            raise SinkError(
                f"webhook {self.name}: POST {redact_url(self.url)} answered {response.status_code}"
            )

    def _unsent(self, batch: list[Envelope]) -> list[Envelope]:
        if self._index is None:
            return batch
        sent: set[str] = set()
        for i in range(0, len(batch), 500):
            keys = [e.key for e in batch[i : i + 500]]
            marks = ",".join("?" * len(keys))
            sql = f"SELECT key FROM sent WHERE key IN ({marks})"  # noqa: S608 - placeholders
            sent.update(r[0] for r in self._index.execute(sql, keys))
        return [e for e in batch if e.key not in sent]

    def _mark(self, batch: list[Envelope]) -> None:
        if self._index is not None:
            with self._index:
                self._index.executemany(
                    "INSERT OR IGNORE INTO sent VALUES (?)", [(e.key,) for e in batch]
                )

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        todo = await asyncio.to_thread(self._unsent, batch)
        for i in range(0, len(todo), self.batch_size):
            chunk = todo[i : i + self.batch_size]
            await self._post(chunk)
            await asyncio.to_thread(self._mark, chunk)
        return result_for(self, self.location, batch, len(todo))

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        return []

    async def delete(self, location_id: str) -> bool:
        return False
