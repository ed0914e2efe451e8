"""Request-level rate limits shared by every worker using one credential, in PostgreSQL.

The engine's limits count jobs; an API's limit counts requests, from every worker together.
:class:`PostgresSharedLimit` is a token bucket in one row per credential, refilled and taken
from in one atomic statement on the database's clock (the workers' clocks never meet), with
``paused_until``: a 429 seen by one worker pauses every worker using that credential. It plugs
into the HTTP client as its :class:`~collectorkit.http.SharedRateLimit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from collectorkit.state import PostgresStateStore

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["PostgresSharedLimit", "create_limits_table", "credential_key"]

_CREATE = (
    "CREATE TABLE IF NOT EXISTS collectorkit_rate_limits (key TEXT PRIMARY KEY, "
    "tokens DOUBLE PRECISION NOT NULL, stamp DOUBLE PRECISION NOT NULL, "
    "paused_until DOUBLE PRECISION NOT NULL)"
)
# one statement: refill since the last taker (at most burst), take one (a sharer without a
# rate takes none), publish a pause; returns the balance (negative: reserved ahead) and the
# seconds of pause left
_TAKE = (
    "WITH now AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS t) "
    "INSERT INTO collectorkit_rate_limits AS b (key, tokens, stamp, paused_until) "
    "SELECT %(key)s, %(burst)s - %(cost)s, now.t, now.t + %(pause)s FROM now "
    "ON CONFLICT (key) DO UPDATE SET tokens = CASE WHEN %(rate)s::float8 IS NULL THEN b.tokens "
    "ELSE LEAST(%(burst)s, b.tokens + (excluded.stamp - b.stamp) * %(rate)s) - %(cost)s END, "
    "stamp = excluded.stamp, paused_until = GREATEST(b.paused_until, excluded.paused_until) "
    "RETURNING tokens, paused_until - stamp"
)


async def create_limits_table(conn: AsyncConnection[Any]) -> None:
    await conn.execute(_CREATE)


def credential_key(base_url: str, secrets: list[str]) -> str:
    """The bucket of the credential ``secrets`` at ``base_url``'s host: a digest, never the
    secret itself (the key is stored and shown)."""
    origin = urlsplit(base_url)
    digest = hashlib.sha256("\0".join([origin.netloc.lower(), *sorted(secrets)]).encode())
    return f"{origin.hostname or 'local'}:{digest.hexdigest()[:20]}"


class PostgresSharedLimit:
    """A :class:`~collectorkit.http.SharedRateLimit` in PostgreSQL, keyed by credential.

    ``rate_per_second`` / ``burst`` are the credential's limit (``None``: only the pauses are
    shared). Each request costs one round trip to the database.
    """

    def __init__(
        self,
        store: PostgresStateStore,
        key: str,
        *,
        rate_per_second: float | None = None,
        burst: int | None = None,
    ) -> None:
        self.key = key
        self._store = store
        self._rate = rate_per_second
        self._burst = float(burst if burst is not None else 1)
        self._pending = 0.0
        self._publishing: set[asyncio.Task[None]] = set()
        self.waited = 0.0
        """Seconds this process was told to wait, in total (the figures of /status)."""

    def pause(self, seconds: float) -> None:
        """Publish the pause at once (the client itself waits before its next request, which
        is too late for the others); until it is written, the next :meth:`acquire` carries it."""
        self._pending = max(self._pending, seconds)
        with contextlib.suppress(RuntimeError):  # no running loop: acquire publishes it
            task = asyncio.get_running_loop().create_task(self._publish())
            self._publishing.add(task)
            task.add_done_callback(self._published)

    async def _publish(self) -> None:
        if self._pending > 0:
            await self._take(cost=0.0)

    def _published(self, task: asyncio.Task[None]) -> None:
        self._publishing.discard(task)
        if not task.cancelled():
            task.exception()  # a failed write left the pause pending: acquire publishes it

    async def acquire(self) -> float:
        tokens, paused = await self._take(cost=1.0)
        wait = -tokens / self._rate if self._rate and tokens < 0 else 0.0
        wait = max(wait, paused, 0.0)
        self.waited += wait
        return wait

    async def _take(self, *, cost: float) -> tuple[float, float]:
        pending, self._pending = self._pending, 0.0
        params = {
            "key": self.key,
            "burst": self._burst,
            "rate": self._rate,
            "pause": pending,
            "cost": cost,
        }

        async def work(conn: AsyncConnection[Any]) -> Any:
            return await (await conn.execute(_TAKE, params)).fetchone()

        try:
            tokens, paused = await self._store.run(work)
        except BaseException:
            self._pending = max(self._pending, pending)
            raise
        return float(tokens), float(paused)
