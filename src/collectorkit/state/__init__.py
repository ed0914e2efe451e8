"""collectorkit.state: where collector state and watermarks live.

Every store implements :class:`~collectorkit.typing.StateStore` (get / put with compare-and-set /
delete / list by namespace and key); :func:`open_state_store` picks one by URL.
"""

from collectorkit.state._fence import (
    DEFAULT_FENCE_TABLE,
    Fence,
    FenceRow,
    postgres_check_fence,
    postgres_create_fence_table,
    postgres_fences,
    postgres_finish_run,
    postgres_note_stall,
    postgres_start_run,
)
from collectorkit.state._memory import MemoryStateStore
from collectorkit.state._mock import MockStorageClient
from collectorkit.state._open import STATE_STORE_SCHEMES as STATE_STORE_SCHEMES
from collectorkit.state._open import create_state_store, open_state_store, register_state_store
from collectorkit.state._postgres import (
    PostgresStateStore,
    open_postgres_pool,
    postgres_create_state_table,
    postgres_put_state,
)
from collectorkit.state._redis import RedisStateStore
from collectorkit.state._service_client import StorageServiceClient
from collectorkit.state._sqlite import (
    SQLiteDatabase,
    SQLiteStateStore,
    connect_checked_sqlite,
    move_damaged_aside,
    same_sqlite_file,
    sqlite_create_state_table,
    sqlite_put_state,
)
from collectorkit.state._timestamps import UTCDateTime, format_timestamp, parse_timestamp
from collectorkit.state._token_cache import StateStoreTokenCache
from collectorkit.state._watermarks import Watermark, WatermarkManager, apply_run

__all__ = [
    "DEFAULT_FENCE_TABLE",
    "Fence",
    "FenceRow",
    "MemoryStateStore",
    "MockStorageClient",
    "PostgresStateStore",
    "RedisStateStore",
    "SQLiteDatabase",
    "SQLiteStateStore",
    "StateStoreTokenCache",
    "StorageServiceClient",
    "UTCDateTime",
    "Watermark",
    "WatermarkManager",
    "apply_run",
    "connect_checked_sqlite",
    "create_state_store",
    "format_timestamp",
    "move_damaged_aside",
    "open_postgres_pool",
    "open_state_store",
    "parse_timestamp",
    "postgres_check_fence",
    "postgres_create_fence_table",
    "postgres_create_state_table",
    "postgres_fences",
    "postgres_finish_run",
    "postgres_note_stall",
    "postgres_put_state",
    "postgres_start_run",
    "register_state_store",
    "same_sqlite_file",
    "sqlite_create_state_table",
    "sqlite_put_state",
]
