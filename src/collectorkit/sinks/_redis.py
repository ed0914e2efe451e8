"""Redis Streams sink: XADD per new record, idempotent, atomically with the checkpoint.

One Lua script per batch (atomic on the server): for each record whose key is not yet in the
``{stream}:keys`` hash, ``XADD`` it and remember key → entry id; then, when given, write the
collector state in the :class:`~collectorkit.state.RedisStateStore` format. Single-node Redis
(the keys live in different hash slots).
"""

from __future__ import annotations

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
    match_criteria,
    result_for,
    unique_envelopes,
)
from collectorkit.state._redis import (
    REDIS_PUT_STATE,
    RedisStateStore,
    open_redis_client,
    redis_state_key,
)
from collectorkit.state._values import check_names, encode_value, redact_url
from collectorkit.typing import Checkpoint, QueryCriteria, StateStore, StoreResult

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisStreamSink"]

T = TypeVar("T")

# KEYS: stream, key hash, state hash ("" when no checkpoint)
# ARGV: maxlen ("" = none), state field, updated_at, state json, then key, source, data triples
_STORE = (
    REDIS_PUT_STATE
    + """
local written = 0
local maxlen = ARGV[1]
for i = 5, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], '') == 1 then
    local id
    if maxlen ~= '' then
      id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*',
                      'key', ARGV[i], 'source', ARGV[i + 1], 'data', ARGV[i + 2])
    else
      id = redis.call('XADD', KEYS[1], '*', 'key', ARGV[i], 'source', ARGV[i + 1],
                      'data', ARGV[i + 2])
    end
    redis.call('HSET', KEYS[2], ARGV[i], id)
    written = written + 1
  end
end
if KEYS[3] ~= '' then put_state(KEYS[3], ARGV[2], '', ARGV[3], ARGV[4]) end
return written
"""
)


class RedisStreamSink(BaseSink):
    """Records as entries (``key``, ``source``, ``data`` fields) of the stream ``stream``.

    Needs ``pip install 'collectorkit[redis]'``. ``maxlen`` trims the stream approximately
    (the key index keeps every key, so trimmed records are still not written again).
    ``state_prefix`` must match the ``RedisStateStore`` prefix that reads checkpoints.
    """

    name = "redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        stream: str = "collectorkit:events",
        maxlen: int | None = None,
        state_prefix: str = "collectorkit:state",
        connect_timeout: float = 10.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not stream or "{" in stream:
            raise ConfigError(f"invalid stream name {stream!r}", path="stream")
        if maxlen is not None and maxlen < 1:
            raise ConfigError(f"must be >= 1, got {maxlen!r}", path="maxlen")
        self.url = url
        self.stream = stream
        self.keys = f"{stream}:keys"
        self.maxlen = maxlen
        self.state_prefix = state_prefix
        self._timeout = connect_timeout
        self._client: Redis | None = None
        self._script: Any = None

    def __repr__(self) -> str:
        return f"RedisStreamSink({redact_url(self.url)!r}, stream={self.stream!r})"

    @property
    def location(self) -> str:
        return f"{redact_url(self.url)}#{self.stream}"

    def shares_state_with(self, store: StateStore) -> bool:
        """True for a :class:`~collectorkit.state.RedisStateStore` on this server whose prefix
        is this sink's ``state_prefix``."""
        return isinstance(store, RedisStateStore) and store.holds_state_at(
            self.url, prefix=self.state_prefix
        )

    async def _open(self) -> None:
        client = open_redis_client(self.url, timeout=self._timeout, needed_by="the redis sink")
        self._client = client
        self._script = client.register_script(_STORE)
        await self._run(lambda r: r.ping(), "cannot connect")

    async def _close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def _run(self, work: Callable[[Redis], Awaitable[T]], what: str) -> T:
        import redis.exceptions as rex

        if self._client is None:
            await self.connect()
        assert self._client is not None
        try:
            return await work(self._client)
        except (rex.RedisError, OSError) as exc:
            raise SinkError(f"Redis sink {redact_url(self.url)}: {what}: {exc}") from None

    async def _eval(self, batch: list[Envelope], checkpoint: Checkpoint | None) -> int:
        args: list[Any] = ["" if self.maxlen is None else str(self.maxlen)]
        keys = [self.stream, self.keys, ""]
        if checkpoint is None:
            args += ["", "", ""]
        else:
            keys[2] = redis_state_key(self.state_prefix, checkpoint.namespace)
            args += [checkpoint.key, repr(time.time()), encode_value(checkpoint.state)]
        for e in batch:
            args += [e.key, e.source, dump_json(e.data)]
        script = self._script
        return int(await self._run(lambda r: script(keys=keys, args=args), "store failed"))

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        return result_for(self, self.location, batch, await self._eval(batch, None))

    async def store_with_checkpoint(
        self, batch: Sequence[Envelope], checkpoint: Checkpoint
    ) -> StoreResult:
        """Store ``batch`` and save ``checkpoint`` in one atomic script."""
        check_names(checkpoint.namespace, checkpoint.key)
        envelopes = unique_envelopes(as_envelopes(batch, self.default_source))
        await self.connect()
        written = await self._eval(envelopes, checkpoint)
        result = result_for(self, self.location, envelopes, written)
        return replace(result, duplicates=len(batch) - written)

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        """Reads the whole stream (``XRANGE``) and filters in memory."""
        entries: Any = await self._run(lambda r: r.xrange(self.stream), "query failed")
        envelopes = [
            Envelope(f[b"source"].decode(), f[b"key"].decode(), orjson.loads(f[b"data"]))
            for _, f in entries or ()
        ]
        return match_criteria(envelopes, criteria or QueryCriteria())

    async def delete(self, location_id: str) -> bool:
        async def work(r: Redis) -> bool:
            entry = await r.hget(self.keys, location_id)
            if not entry:
                return False
            await r.xdel(self.stream, entry)
            await r.hdel(self.keys, location_id)
            return True

        return await self._run(work, "delete failed")

    async def count(self) -> int:
        return int(await self._run(lambda r: r.xlen(self.stream), "count failed"))
