"""State in PostgreSQL (psycopg 3, async, pooled): the store for a fleet of collectors.

Every write is one atomic statement, so compare-and-set holds across any number of processes
and hosts. The table is created on first use. A sink that keeps checkpoints in the same
database writes them in its own transaction with :func:`postgres_create_state_table` and
:func:`postgres_put_state`, over a pool from :func:`open_postgres_pool`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import ConfigError, StateError, StateStoreUnavailableError
from collectorkit._lifecycle import AsyncResource
from collectorkit.state._fence import Fence, postgres_check_fence
from collectorkit.state._values import (
    check_names,
    check_put,
    conflict_error,
    redact_url,
)
from collectorkit.typing import StoredValue

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.sql import Composed
    from psycopg_pool import AsyncConnectionPool

__all__ = [
    "PostgresStateStore",
    "open_postgres_pool",
    "postgres_create_state_table",
    "postgres_put_state",
]

T = TypeVar("T")
_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# {table} is filled in with psycopg.sql.Identifier, never by string formatting.
_STATEMENTS = {
    "create": (
        "CREATE TABLE IF NOT EXISTS {table} (namespace TEXT NOT NULL, key TEXT NOT NULL, "
        "value JSONB NOT NULL, version BIGINT NOT NULL, updated_at DOUBLE PRECISION NOT NULL, "
        "PRIMARY KEY (namespace, key))"
    ),
    "get": "SELECT value, version, updated_at FROM {table} WHERE namespace = %s AND key = %s",
    "version": "SELECT version FROM {table} WHERE namespace = %s AND key = %s",
    "upsert": (
        "INSERT INTO {table} VALUES (%s, %s, %s::jsonb, 1, %s) ON CONFLICT (namespace, key) "
        "DO UPDATE SET value = excluded.value, version = {table}.version + 1, "
        "updated_at = excluded.updated_at RETURNING version"
    ),
    "insert_new": (
        "INSERT INTO {table} VALUES (%s, %s, %s::jsonb, 1, %s) "
        "ON CONFLICT (namespace, key) DO NOTHING RETURNING version"
    ),
    "update_if": (
        "UPDATE {table} SET value = %s::jsonb, version = version + 1, updated_at = %s "
        "WHERE namespace = %s AND key = %s AND version = %s RETURNING version"
    ),
    "delete": "DELETE FROM {table} WHERE namespace = %s AND key = %s",
    "list": (
        "SELECT key, value, version, updated_at FROM {table} WHERE namespace = %s "
        'ORDER BY key COLLATE "C"'  # code-point order, whatever the database's collation
    ),
}


def _statement(name: str, table: str) -> Composed:
    from psycopg import sql

    return sql.SQL(_STATEMENTS[name]).format(table=sql.Identifier(table))


def _check_table(table: str, path: str = "table") -> None:
    if not isinstance(table, str) or not _TABLE.fullmatch(table):
        raise ConfigError(f"invalid table name {table!r}", path=path)


async def open_postgres_pool(
    url: str,
    *,
    max_size: int,
    connect_timeout: float,
    setup: Callable[[AsyncConnection[Any]], Awaitable[None]],
    autocommit: bool = False,
    needed_by: str = "PostgreSQL state",
    path: str | None = None,
) -> AsyncConnectionPool[Any]:
    """An opened psycopg pool of 1 to ``max_size`` connections to ``url``, after ``setup`` ran
    on one of them (creating tables).

    One connection is tried first: a refused login or a missing database raises
    :class:`~collectorkit.ConfigError` (at ``path``) saying so at once, instead of a pool retrying
    it until ``connect_timeout`` and logging the driver's warnings. Opening waits at most
    ``connect_timeout`` seconds. When opening or ``setup`` fails the pool is closed and the
    exception propagates, for the caller to word; a missing psycopg raises
    :class:`~collectorkit.ConfigError` naming ``needed_by``.
    """
    try:
        from psycopg_pool import AsyncConnectionPool
    except ImportError:  # pragma: no cover - depends on the installation
        raise ConfigError(
            f"{needed_by} needs psycopg: pip install 'collectorkit[postgres]'"
        ) from None
    connect: dict[str, Any] = {"connect_timeout": max(1, int(connect_timeout))}
    if autocommit:
        connect["autocommit"] = True
    await _check_login(url, connect, needed_by=needed_by, path=path)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url, min_size=1, max_size=max_size, open=False, timeout=connect_timeout, kwargs=connect
    )
    try:
        await pool.open(wait=True, timeout=connect_timeout)
        async with pool.connection() as conn:
            await setup(conn)
    except BaseException:
        await pool.close()
        raise
    return pool


async def postgres_create_state_table(
    conn: AsyncConnection[Any], *, table: str = "collectorkit_state"
) -> None:
    """Create the state table ``table`` on ``conn`` if it does not exist (idempotent).

    The table is the one :class:`PostgresStateStore` reads and writes, so a sink can keep its
    checkpoints in it inside its own transaction (with :func:`postgres_put_state`).
    """
    _check_table(table)
    await conn.execute(_statement("create", table))


async def postgres_put_state(
    conn: AsyncConnection[Any],
    namespace: str,
    key: str,
    value: Mapping[str, Any],
    *,
    now: float,
    if_version: int | None = None,
    table: str = "collectorkit_state",
    fence: Fence | None = None,
) -> int:
    """Write one state value on ``conn`` (in the caller's transaction) and return its version.

    The table must exist (call :func:`postgres_create_state_table` once). Raises
    :class:`~collectorkit.StateConflictError` when ``if_version`` does not match, and
    :class:`~collectorkit.FencedError` when ``fence`` no longer holds its epoch.
    """
    _check_table(table)
    text = check_put(namespace, key, value, if_version)
    if fence is not None:
        await postgres_check_fence(conn, fence)
    return await _put_text(conn, table, namespace, key, text, now, if_version)


async def _put_text(
    conn: AsyncConnection[Any],
    table: str,
    namespace: str,
    key: str,
    text: str,
    now: float,
    if_version: int | None,
) -> int:
    """The compare-and-set write of already-checked JSON ``text``: one atomic statement."""
    if if_version is None:
        sql = _statement("upsert", table)
        params: tuple[Any, ...] = (namespace, key, text, now)
    elif if_version == 0:
        sql = _statement("insert_new", table)
        params = (namespace, key, text, now)
    else:
        sql = _statement("update_if", table)
        params = (text, now, namespace, key, if_version)
    row = await (await conn.execute(sql, params)).fetchone()
    if row is not None:
        return int(row[0])
    found = await (await conn.execute(_statement("version", table), (namespace, key))).fetchone()
    raise conflict_error(namespace, key, if_version, int(found[0]) if found else 0)


_REFUSED_LOGIN = (
    "authentication failed",
    "no password supplied",
    "does not exist",  # role "x" / database "x" does not exist
    "is not permitted to log in",
    "no pg_hba.conf entry",
)


async def _check_login(
    url: str, connect: Mapping[str, Any], *, needed_by: str, path: str | None
) -> None:
    """Connect once; a server that answers but refuses this login is a :class:`ConfigError`."""
    import psycopg

    try:
        conn = await psycopg.AsyncConnection.connect(url, **connect)
    except psycopg.OperationalError as exc:
        reason = _server_refusal(str(exc))
        if reason is None:
            raise  # not reached, timed out ...: the caller says "unreachable"
        if "authentication failed" not in reason and "database" not in reason:
            reason = f"authentication failed: {reason}"
        where = redact_url(url) if "://" in url else "the configured DSN"  # key=value: unparsed
        raise ConfigError(
            f"{needed_by} at {where}: {reason}; "
            "check the user, password and database name in the URL",
            path=path,
        ) from None
    await conn.close()


def _server_refusal(text: str) -> str | None:
    """The server's own reason when ``text`` (a libpq error) is a refused login, else ``None``."""
    for line in text.splitlines():
        reason = line.rpartition("FATAL:")[2].strip()
        if "FATAL:" in line and any(marker in reason for marker in _REFUSED_LOGIN):
            return reason
    return None


class PostgresStateStore(AsyncResource):
    """A :class:`~collectorkit.typing.StateStore` in table ``table`` of the database at ``url``.

    ``url`` is a libpq URL or DSN (``postgresql://user:pass@host:5432/db``). Connections come
    from a pool of at most ``max_connections``; a server that cannot be reached within
    ``connect_timeout`` seconds raises :class:`~collectorkit.StateStoreUnavailableError`.
    """

    def __init__(
        self,
        url: str,
        *,
        table: str = "collectorkit_state",
        max_connections: int = 10,
        connect_timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        _check_table(table)
        self._url = url
        self._table = table
        self._max = max_connections
        self._timeout = connect_timeout
        self._clock: Clock = clock or SystemClock()
        self._pool: AsyncConnectionPool[Any] | None = None
        self._open_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresStateStore({redact_url(self._url)!r}, table={self._table!r})"

    def holds_state_at(self, url: str, *, table: str) -> bool:
        """Whether this store reads state from ``table`` of the database at ``url`` (where a
        sink that commits checkpoints with its records writes them)."""
        return url == self._url and table == self._table

    async def _open(self) -> AsyncConnectionPool[Any]:
        async with self._open_lock:
            if self._pool is None:
                self._pool = await self._create_pool()
            return self._pool

    async def _create_pool(self) -> AsyncConnectionPool[Any]:
        async def setup(conn: AsyncConnection[Any]) -> None:
            import psycopg

            # another process may create the table at the same moment
            with contextlib.suppress(
                psycopg.errors.UniqueViolation,
                psycopg.errors.DuplicateTable,
                psycopg.errors.DuplicateObject,  # 'type "<table>" already exists'
            ):
                await postgres_create_state_table(conn, table=self._table)

        try:
            return await open_postgres_pool(
                self._url,
                max_size=self._max,
                connect_timeout=self._timeout,
                setup=setup,
                autocommit=True,
                path="state",
            )
        except ConfigError:
            raise
        except Exception as exc:
            import psycopg

            if isinstance(exc, psycopg.Error) and not isinstance(exc, psycopg.OperationalError):
                raise StateError(f"PostgreSQL state store: {exc}") from None
            raise self._unavailable(exc) from None

    def _sql(self, name: str) -> Composed:
        return _statement(name, self._table)

    def _unavailable(self, exc: BaseException) -> StateStoreUnavailableError:
        reason = str(exc).replace(self._url, redact_url(self._url)).strip().splitlines()
        first = reason[0] if reason else type(exc).__name__
        return StateStoreUnavailableError(
            f"PostgreSQL state store {redact_url(self._url)} unreachable: {first}"
        )

    async def _run(self, work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
        import psycopg
        import psycopg_pool

        pool = await self._open()
        try:
            async with pool.connection() as conn:
                return await work(conn)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self._unavailable(exc) from None
        except psycopg.Error as exc:
            raise StateError(f"PostgreSQL state store: {exc}") from None

    async def get(self, namespace: str, key: str) -> StoredValue | None:
        check_names(namespace, key)
        sql = self._sql("get")

        async def work(conn: AsyncConnection[Any]) -> Any:
            return await (await conn.execute(sql, (namespace, key))).fetchone()

        row = await self._run(work)
        return None if row is None else StoredValue(row[0], int(row[1]), float(row[2]))

    async def put(
        self,
        namespace: str,
        key: str,
        value: Mapping[str, Any],
        *,
        if_version: int | None = None,
        fence: Fence | None = None,
    ) -> int:
        """``fence``: written only while it holds its epoch (checked in the same transaction),
        else :class:`~collectorkit.FencedError`."""
        text, now = check_put(namespace, key, value, if_version), self._clock.time()

        async def work(conn: AsyncConnection[Any]) -> int:
            if fence is None:
                return await _put_text(conn, self._table, namespace, key, text, now, if_version)
            async with conn.transaction():
                await postgres_check_fence(conn, fence)
                return await _put_text(conn, self._table, namespace, key, text, now, if_version)

        return await self._run(work)

    async def run(self, work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
        """``work`` on a pooled connection of this store (autocommit; open a transaction with
        ``conn.transaction()``), its failures worded as the store's own."""
        return await self._run(work)

    async def delete(self, namespace: str, key: str) -> bool:
        check_names(namespace, key)
        sql = self._sql("delete")

        async def work(conn: AsyncConnection[Any]) -> bool:
            return (await conn.execute(sql, (namespace, key))).rowcount > 0

        return await self._run(work)

    async def list(self, namespace: str) -> dict[str, StoredValue]:
        check_names(namespace)
        sql = self._sql("list")

        async def work(conn: AsyncConnection[Any]) -> list[Any]:
            return await (await conn.execute(sql, (namespace,))).fetchall()

        rows = await self._run(work)
        return {k: StoredValue(v, int(ver), float(at)) for k, v, ver, at in rows}

    async def ping(self) -> None:
        """Connect (creating the table) so an unreachable server fails now, with a clear error."""

        async def work(conn: AsyncConnection[Any]) -> None:
            await conn.execute("SELECT 1")

        await self._run(work)

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
