"""PostgreSQL sink: JSONB rows keyed by the idempotency key, batched, with the checkpoint.

A batch is one ``executemany`` of ``INSERT … ON CONFLICT (key) DO NOTHING`` in pipeline mode
(one round trip). ``store_with_checkpoint`` writes the collector state into the
:class:`~collectorkit.state.PostgresStateStore` table in the same transaction.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from collectorkit._errors import ConfigError, SinkError
from collectorkit._records import Envelope
from collectorkit.sinks._base import (
    BaseSink,
    as_envelopes,
    dump_json,
    result_for,
    unique_envelopes,
)
from collectorkit.state import (
    PostgresStateStore,
    open_postgres_pool,
    postgres_create_state_table,
    postgres_put_state,
)
from collectorkit.state._values import check_names, redact_url
from collectorkit.typing import Checkpoint, QueryCriteria, StateStore, StoreResult

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.sql import Composed
    from psycopg_pool import AsyncConnectionPool

__all__ = ["PostgresSink"]

T = TypeVar("T")
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_FIELD = re.compile(r"[A-Za-z0-9_\-]{1,100}")

_EVENTS_DDL = (
    "CREATE TABLE IF NOT EXISTS {table} (seq BIGSERIAL, key TEXT PRIMARY KEY, "
    "source TEXT NOT NULL, data JSONB NOT NULL, stored_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)
_INSERT = (
    "INSERT INTO {table} (key, source, data) VALUES (%s, %s, %s::jsonb) ON CONFLICT DO NOTHING"
)


class PostgresSink(BaseSink):
    """Records in table ``table`` (JSONB) of the database at ``url`` (psycopg 3, pooled).

    Needs ``pip install 'collectorkit[postgres]'``. ``state_table`` is where
    ``store_with_checkpoint`` keeps collector state (the ``PostgresStateStore`` default).
    """

    name = "postgres"

    def __init__(
        self,
        url: str,
        *,
        table: str = "collectorkit_events",
        state_table: str = "collectorkit_state",
        max_connections: int = 4,
        connect_timeout: float = 10.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        for field, value in (("table", table), ("state_table", state_table)):
            if not _NAME.fullmatch(value):
                raise ConfigError(f"invalid table name {value!r}", path=field)
        self.url = url
        self.table = table
        self.state_table = state_table
        self._max = max_connections
        self._timeout = connect_timeout
        self._pool: AsyncConnectionPool[Any] | None = None

    def __repr__(self) -> str:
        return f"PostgresSink({redact_url(self.url)!r}, table={self.table!r})"

    @property
    def location(self) -> str:
        return f"{redact_url(self.url)}#{self.table}"

    def shares_state_with(self, store: StateStore) -> bool:
        """True for a :class:`~collectorkit.state.PostgresStateStore` on this database whose
        table is this sink's ``state_table``."""
        return isinstance(store, PostgresStateStore) and store.holds_state_at(
            self.url, table=self.state_table
        )

    def _sql(self, text: str) -> Composed:
        from psycopg import sql

        return sql.SQL(text).format(table=sql.Identifier(self.table))

    def _error(self, exc: BaseException, what: str) -> SinkError:
        lines = str(exc).replace(self.url, redact_url(self.url)).strip().splitlines()
        return SinkError(
            f"PostgreSQL sink {redact_url(self.url)}: {what}: {lines[0] if lines else exc!r}"
        )

    async def _open(self) -> None:
        async def setup(conn: AsyncConnection[Any]) -> None:
            async with conn.transaction():
                # workers starting together: CREATE TABLE IF NOT EXISTS races in the catalogue
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('collectorkit-ddl'))")
                await conn.execute(self._sql(_EVENTS_DDL))
                await postgres_create_state_table(conn, table=self.state_table)

        try:
            self._pool = await open_postgres_pool(
                self.url,
                max_size=self._max,
                connect_timeout=self._timeout,
                setup=setup,
                needed_by="the postgres sink",
            )
        except ConfigError:
            raise
        except Exception as exc:
            raise self._error(exc, "cannot connect") from None

    async def _close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _run(self, work: Callable[[AsyncConnection[Any]], Awaitable[T]], what: str) -> T:
        import psycopg
        import psycopg_pool

        await self.connect()
        assert self._pool is not None
        try:
            async with self._pool.connection() as conn:
                return await work(conn)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self._error(exc, what) from None

    def _transaction(
        self, batch: list[Envelope], checkpoint: Checkpoint | None
    ) -> Callable[[AsyncConnection[Any]], Awaitable[int]]:
        insert = self._sql(_INSERT)
        rows = [(e.key, e.source, dump_json(e.data).decode()) for e in batch]

        async def work(conn: AsyncConnection[Any]) -> int:
            written = 0
            async with conn.transaction(), conn.cursor() as cur:
                if rows:
                    await cur.executemany(insert, rows)
                    written = cur.rowcount
                if checkpoint is not None:
                    await postgres_put_state(
                        conn,
                        checkpoint.namespace,
                        checkpoint.key,
                        checkpoint.state,
                        now=time.time(),
                        table=self.state_table,
                    )
            return written

        return work

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        written = await self._run(self._transaction(batch, None), "store failed")
        return result_for(self, self.location, batch, written)

    async def store_with_checkpoint(
        self, batch: Sequence[Envelope], checkpoint: Checkpoint
    ) -> StoreResult:
        """Store ``batch`` and save ``checkpoint`` in one transaction (both or neither)."""
        check_names(checkpoint.namespace, checkpoint.key)
        envelopes = unique_envelopes(as_envelopes(batch, self.default_source))
        written = await self._run(self._transaction(envelopes, checkpoint), "store failed")
        return replace(
            result_for(self, self.location, envelopes, written), duplicates=len(batch) - written
        )

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        from psycopg import sql

        criteria = criteria or QueryCriteria()
        parts: list[Any] = [
            sql.SQL("SELECT key, source, data FROM {} WHERE true").format(
                sql.Identifier(self.table)
            )
        ]
        params: list[Any] = []
        if criteria.source is not None:
            parts.append(sql.SQL(" AND source = %s"))
            params.append(criteria.source)
        for field, value in criteria.filters.items():
            parts.append(sql.SQL(" AND data #> %s = %s::jsonb"))
            params += [_path(field), orjson.dumps(value).decode()]
        if criteria.sort_by:
            direction = "DESC" if criteria.descending else "ASC"
            parts.append(sql.SQL(" ORDER BY data #> %s " + direction))
            params.append(_path(criteria.sort_by))
        else:
            parts.append(sql.SQL(" ORDER BY seq"))
        parts.append(sql.SQL(" LIMIT %s OFFSET %s"))
        params += [criteria.limit, criteria.offset]
        statement = sql.Composed(parts)

        async def work(conn: AsyncConnection[Any]) -> list[Any]:
            return await (await conn.execute(statement, params)).fetchall()

        rows = await self._run(work, "query failed")
        return [Envelope(s, k, d) for k, s, d in rows]

    async def delete(self, location_id: str) -> bool:
        statement = self._sql("DELETE FROM {table} WHERE key = %s")

        async def work(conn: AsyncConnection[Any]) -> bool:
            async with conn.transaction():
                return (await conn.execute(statement, (location_id,))).rowcount > 0

        return await self._run(work, "delete failed")

    async def count(self) -> int:
        statement = self._sql("SELECT count(*) FROM {table}")

        async def work(conn: AsyncConnection[Any]) -> int:
            row = await (await conn.execute(statement)).fetchone()
            return int(row[0]) if row else 0

        return await self._run(work, "count failed")


def _path(field: str) -> list[str]:
    parts = field.split(".")
    if not all(_FIELD.fullmatch(p) for p in parts):
        raise ConfigError(f"invalid field name {field!r}: letters, digits, _ - only")
    return parts
