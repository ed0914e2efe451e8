"""collectorkit.collect: blueprints, pagination, incremental windows, resume state, strategies.

A :class:`CollectorBlueprint` describes a collector; :class:`CollectorClient` walks it page by
page on an :class:`~collectorkit.APIClient`. Paging and window decisions are sans-I/O
(:class:`StandardPaginator`, :class:`IncrementalConfig`); the one page loop is
:meth:`CollectorClient.iter_pages`, and every strategy consumes it.
"""

from collectorkit.collect._blueprint import CollectorBlueprint
from collectorkit.collect._client import CollectorClient
from collectorkit.collect._incremental import IncrementalConfig, Window
from collectorkit.collect._metrics import ExecutionMetrics
from collectorkit.collect._page import CollectionResult, Page
from collectorkit.collect._pagination import PaginationConfig
from collectorkit.collect._paginator import Advance, StandardPaginator, next_link_from_headers
from collectorkit.collect._raw import raw_refusals
from collectorkit.collect._request import CollectorRequest, Shard
from collectorkit.collect._selfcheck import Finding
from collectorkit.collect._spec import PageResponse, RequestSpec, StopReason
from collectorkit.collect._state import CollectorState
from collectorkit.collect._strategies import (
    BatchCollectionStrategy,
    CollectionStrategy,
    CollectorExecutor,
    ConcurrentCollectionStrategy,
    SequentialCollectionStrategy,
    StreamCollectionStrategy,
    resolve_strategy,
)
from collectorkit.collect._stream import PageStream

__all__ = [
    "Advance",
    "BatchCollectionStrategy",
    "CollectionResult",
    "CollectionStrategy",
    "CollectorBlueprint",
    "CollectorClient",
    "CollectorExecutor",
    "CollectorRequest",
    "CollectorState",
    "ConcurrentCollectionStrategy",
    "ExecutionMetrics",
    "Finding",
    "IncrementalConfig",
    "Page",
    "PageResponse",
    "PageStream",
    "PaginationConfig",
    "RequestSpec",
    "SequentialCollectionStrategy",
    "Shard",
    "StandardPaginator",
    "StopReason",
    "StreamCollectionStrategy",
    "Window",
    "next_link_from_headers",
    "raw_refusals",
    "resolve_strategy",
]
