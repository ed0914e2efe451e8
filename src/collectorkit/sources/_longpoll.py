"""A long-polling endpoint as a data source: repeated GETs that the server holds until data arrives.

Each request sends the cursor from the previous response (``cursor_param``, read from
``cursor_path``) and how long the server may hold it (``timeout_param`` = ``poll_timeout``). The
records are at ``data_path``. The cursor is the resume token: the last record of a response carries
the new cursor, the others the cursor the response was requested with, so a checkpoint inside a
response re-polls it (sinks drop the repeats by key) instead of skipping its tail. Records are
also deduplicated by ``id_field`` across polls.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Unpack

import orjson

from collectorkit._durations import Seconds, parse_duration
from collectorkit._errors import SourceError
from collectorkit._records import Record, lookup_path
from collectorkit.http import TimeoutSettings
from collectorkit.sources._http_stream import HTTPStreamingSource, HTTPStreamOptions
from collectorkit.sources._stream import FatalSourceError, StreamEvent

__all__ = ["LongPollSource"]


def _lookup(value: Any, dotted: str | None) -> Any:
    return lookup_path(value, dotted) if dotted else value


class LongPollSource(HTTPStreamingSource):
    """Records from repeated GETs of ``url`` (batching and bounds: :class:`StreamingSource`).

    An empty response (the server's hold timed out) polls again after ``idle_delay``. A response
    without a new cursor keeps the old one. Errors back off per ``reconnect``. ``auth``,
    ``transport`` and ``client`` as for :class:`~collectorkit.sources.SSESource`.
    """

    def __init__(
        self,
        url: str,
        *,
        data_path: str | None = "events",
        cursor_param: str = "cursor",
        cursor_path: str | None = "next_cursor",
        timeout_param: str | None = "timeout",
        poll_timeout: Seconds = 30.0,
        id_field: str | None = "id",
        idle_delay: Seconds = 1.0,
        **options: Unpack[HTTPStreamOptions],
    ) -> None:
        super().__init__(url, **options)
        self.data_path = data_path
        self.cursor_param = cursor_param
        self.cursor_path = cursor_path
        self.timeout_param = timeout_param
        self.poll_timeout = parse_duration(poll_timeout, field="poll_timeout")
        self.id_field = id_field
        self.idle_delay = parse_duration(idle_delay, field="idle_delay")

    def _client_timeouts(self) -> TimeoutSettings:
        # the read timeout must outlast the server's hold
        return TimeoutSettings(connect=10.0, read=self.poll_timeout + 30.0)

    def _query(self, cursor: str | None) -> dict[str, Any]:
        params = dict(self._params)
        if cursor:
            params[self.cursor_param] = cursor
        if self.timeout_param:
            params[self.timeout_param] = f"{self.poll_timeout:g}"
        return params

    async def _read(self, resume_token: str | None) -> AsyncGenerator[StreamEvent, None]:
        cursor = resume_token
        while True:
            body = await self._poll(cursor)
            records = _lookup(body, self.data_path)
            if not isinstance(records, list):
                raise FatalSourceError(
                    f"{self.source_id}: no list of records at {self.data_path!r} in the response"
                )
            new_cursor = _lookup(body, self.cursor_path)
            next_cursor = str(new_cursor) if new_cursor not in (None, "") else cursor
            for i, record in enumerate(records):
                last = i == len(records) - 1
                item = record if isinstance(record, dict) else {"data": record}
                yield StreamEvent(
                    [item],
                    event_id=self._record_id(item),
                    token=next_cursor if last else cursor,
                )
            cursor = next_cursor
            if not records:
                # the server answered at once with nothing: do not hammer it
                await self.clock.sleep(self.idle_delay)

    def _record_id(self, record: Record) -> str | None:
        value = _lookup(record, self.id_field)
        return None if value is None else str(value)

    async def _poll(self, cursor: str | None) -> Any:
        async with self._get(self._query(cursor), self._headers) as response:
            content = await response.aread()
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise SourceError(f"{self._where}: the response is not JSON: {exc}") from exc
