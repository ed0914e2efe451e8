"""collectorkit.sources: where records come from.

Every source implements :class:`~collectorkit.typing.DataSource` (``connect``, ``aclose``,
``collect``, ``collect_stream``, ``source_id``): the HTTP collector
(:class:`HTTPCollectorSource`) and the streaming feeds — :class:`SSESource`,
:class:`WebSocketSource`, :class:`LongPollSource` — which reconnect with
:class:`ReconnectPolicy` backoff and resume from :attr:`~StreamingSource.last_event_id`.
Seed 003's :class:`CollectionManager` drives several sources together; the seed's
``IDataSource``, ``CollectedData`` and ``MockDataSource`` live in :mod:`collectorkit.compat`.
"""

from collectorkit.sources._backoff import ReconnectPolicy
from collectorkit.sources._decode import as_records, decode_records
from collectorkit.sources._http import HTTPCollectorSource
from collectorkit.sources._longpoll import LongPollSource
from collectorkit.sources._manager import (
    CollectionManager,
    CollectionStatus,
    TaskStatus,
)
from collectorkit.sources._sse import SSESource, records_from_text
from collectorkit.sources._sse_parser import ServerSentEvent, SSEParser
from collectorkit.sources._stream import FatalSourceError, StreamEvent, StreamingSource
from collectorkit.sources._websocket import WebSocketSource

__all__ = [
    "CollectionManager",
    "CollectionStatus",
    "FatalSourceError",
    "HTTPCollectorSource",
    "LongPollSource",
    "ReconnectPolicy",
    "SSEParser",
    "SSESource",
    "ServerSentEvent",
    "StreamEvent",
    "StreamingSource",
    "TaskStatus",
    "WebSocketSource",
    "as_records",
    "decode_records",
    "records_from_text",
]
