"""Fencing epochs in PostgreSQL: a paused worker never commits over the run that replaced it.

Each source has one row in the fence table: its ``epoch``, bumped by :func:`postgres_start_run`
when a run starts, and who holds it. A checkpoint written with a :class:`Fence` first reads the
row ``FOR SHARE`` in the checkpoint's own transaction and refuses the write with
:class:`~collectorkit.FencedError` unless the epoch is still the writer's: a run that started
later always wins, and a bump waits for a commit already under way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from collectorkit._errors import ConfigError, FencedError

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.sql import Composed

__all__ = [
    "DEFAULT_FENCE_TABLE",
    "Fence",
    "FenceRow",
    "postgres_check_fence",
    "postgres_create_fence_table",
    "postgres_fences",
    "postgres_finish_run",
    "postgres_note_stall",
    "postgres_start_run",
]

DEFAULT_FENCE_TABLE = "collectorkit_fences"

_STATEMENTS = {
    "create": (
        "CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, epoch BIGINT NOT NULL, "
        "holder TEXT, started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION, "
        "outcome TEXT, stalls BIGINT NOT NULL DEFAULT 0)"
    ),
    "stall": "UPDATE {table} SET stalls = stalls + 1, outcome = 'stalled' WHERE key = %s",
    "start": (
        "INSERT INTO {table} AS f (key, epoch, holder, started_at) VALUES (%s, 1, %s, %s) "
        "ON CONFLICT (key) DO UPDATE SET epoch = f.epoch + 1, holder = excluded.holder, "
        "started_at = excluded.started_at, finished_at = NULL, outcome = NULL RETURNING epoch"
    ),
    "finish": (
        "UPDATE {table} SET finished_at = %s, outcome = %s, holder = NULL "
        "WHERE key = %s AND epoch = %s"
    ),
    "check": "SELECT epoch FROM {table} WHERE key = %s FOR SHARE",
    "list": (
        "SELECT key, epoch, holder, started_at, finished_at, outcome, stalls FROM {table} "
        'ORDER BY key COLLATE "C"'
    ),
    "one": (
        "SELECT key, epoch, holder, started_at, finished_at, outcome, stalls FROM {table} "
        "WHERE key = %s"
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Fence:
    """A write allowed only while ``table``'s row for ``key`` still has ``epoch``."""

    key: str
    epoch: int
    table: str = DEFAULT_FENCE_TABLE


@dataclass(frozen=True, slots=True, kw_only=True)
class FenceRow:
    """One source's fence: its epoch, the worker running it (``None`` between runs), the last
    start and finish (epoch seconds) and how the last run ended."""

    key: str
    epoch: int
    holder: str | None
    started_at: float | None
    finished_at: float | None
    outcome: str | None
    stalls: int = 0
    """Runs of this source taken over from a stalled worker."""


def _statement(name: str, table: str) -> Composed:
    from psycopg import sql

    from collectorkit.state._postgres import _check_table

    _check_table(table, "fence table")
    return sql.SQL(_STATEMENTS[name]).format(table=sql.Identifier(table))


async def postgres_create_fence_table(
    conn: AsyncConnection[Any], *, table: str = DEFAULT_FENCE_TABLE
) -> None:
    """Create the fence table if it does not exist (idempotent)."""
    await conn.execute(_statement("create", table))


async def postgres_start_run(
    conn: AsyncConnection[Any],
    key: str,
    *,
    holder: str,
    now: float,
    table: str = DEFAULT_FENCE_TABLE,
) -> Fence:
    """Bump ``key``'s epoch for a run by ``holder``: every older run's commits are refused."""
    row = await (await conn.execute(_statement("start", table), (key, holder, now))).fetchone()
    if row is None:  # pragma: no cover - an upsert with RETURNING always returns the row
        raise ConfigError(f"fence table {table!r} returned no epoch for {key!r}")
    return Fence(key=key, epoch=int(row[0]), table=table)


async def postgres_finish_run(
    conn: AsyncConnection[Any], fence: Fence, *, now: float, outcome: str
) -> bool:
    """Record the end of the run holding ``fence``; ``False`` when a newer run holds it."""
    cur = await conn.execute(
        _statement("finish", fence.table), (now, outcome, fence.key, fence.epoch)
    )
    return cur.rowcount > 0


async def postgres_note_stall(
    conn: AsyncConnection[Any], key: str, *, table: str = DEFAULT_FENCE_TABLE
) -> None:
    """Count one run of ``key`` taken over from a stalled worker."""
    await conn.execute(_statement("stall", table), (key,))


async def postgres_check_fence(conn: AsyncConnection[Any], fence: Fence) -> None:
    """In the caller's transaction: lock ``fence``'s row (shared) until it commits, and raise
    :class:`~collectorkit.FencedError` unless its epoch is still ``fence.epoch``."""
    found = await (await conn.execute(_statement("check", fence.table), (fence.key,))).fetchone()
    current = None if found is None else int(found[0])
    if current != fence.epoch:
        raise FencedError(
            f"checkpoint of {fence.key!r} refused: this run holds epoch {fence.epoch}, "
            f"the source is now at epoch {current} (a newer run took it over)",
            source=fence.key,
            epoch=fence.epoch,
            current=current,
        )


async def postgres_fences(
    conn: AsyncConnection[Any], *, key: str | None = None, table: str = DEFAULT_FENCE_TABLE
) -> list[FenceRow]:
    """Every source's fence row, by key (``key``: that source's only)."""
    if key is None:
        rows = await (await conn.execute(_statement("list", table))).fetchall()
    else:
        rows = await (await conn.execute(_statement("one", table), (key,))).fetchall()
    return [
        FenceRow(
            key=r[0],
            epoch=int(r[1]),
            holder=r[2],
            started_at=r[3],
            finished_at=r[4],
            outcome=r[5],
            stalls=int(r[6]),
        )
        for r in rows
    ]
