"""State in Redis: one hash per namespace, compare-and-set in a Lua script (atomic on the server).

Each hash field holds ``"<version>|<updated_at>|<json>"``; the script reads the version, checks
the condition and writes in one step, so no two writers can both win.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import ConfigError, StateError, StateStoreUnavailableError
from collectorkit._lifecycle import AsyncResource
from collectorkit.state._values import (
    check_names,
    check_put,
    conflict_error,
    decode_value,
    redact_url,
)
from collectorkit.typing import StoredValue

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["REDIS_PUT_STATE", "RedisStateStore", "open_redis_client", "redis_state_key"]

T = TypeVar("T")

REDIS_PUT_STATE = """
local function put_state(hash, field, expected, updated_at, json)
  local cur = redis.call('HGET', hash, field)
  local version = 0
  if cur then version = tonumber(string.match(cur, '^(%d+)|')) end
  if expected ~= '' and tonumber(expected) ~= version then return -1 - version end
  version = version + 1
  redis.call('HSET', hash, field, version .. '|' .. updated_at .. '|' .. json)
  return version
end
"""
"""The Lua function that writes one state value (``"<version>|<updated_at>|<json>"``) with
compare-and-set (``expected`` ``''``: unconditional); it returns the new version, or
``-1 - current_version`` when the condition fails. A sink's script that commits checkpoints
with its records starts with it."""

# KEYS[1] hash; ARGV: field, expected version ("" = unconditional), updated_at, json.
_PUT = REDIS_PUT_STATE + "return put_state(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])\n"


def redis_state_key(prefix: str, namespace: str) -> str:
    """The hash that holds ``namespace``'s state under ``prefix``."""
    return f"{prefix}:{namespace}"


def open_redis_client(url: str, *, timeout: float, needed_by: str) -> Redis:
    """A redis-py asyncio client for ``url`` with ``timeout`` to connect and to read (it
    connects on first use). A missing redis-py or a bad URL raises
    :class:`~collectorkit.ConfigError` naming ``needed_by`` (the URL redacted)."""
    try:
        from redis.asyncio import Redis
    except ImportError:  # pragma: no cover - depends on the installation
        raise ConfigError(
            f"{needed_by} needs redis-py: pip install 'collectorkit[redis]'"
        ) from None
    try:
        return Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    except ValueError as exc:
        raise ConfigError(f"invalid Redis URL {redact_url(url)}: {exc}") from None


def _parse(raw: bytes) -> StoredValue:
    """Decode ``"<version>|<updated_at>|<json>"``."""
    version, updated, text = raw.split(b"|", 2)
    return StoredValue(decode_value(text), int(version), float(updated))


class RedisStateStore(AsyncResource):
    """A :class:`~collectorkit.typing.StateStore` in Redis at ``url`` (``redis://host:6379/0``).

    Keys are ``{prefix}:{namespace}``. Redis keeps data only as durably as it is configured to
    (RDB/AOF): use PostgreSQL or SQLite when losing the last second of state is not acceptable.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "collectorkit:state",
        connect_timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        if not prefix or "{" in prefix:
            raise ConfigError(f"invalid key prefix {prefix!r}", path="prefix")
        self._url = url
        self._prefix = prefix
        self._timeout = connect_timeout
        self._clock: Clock = clock or SystemClock()
        self._client: Redis | None = None

    def __repr__(self) -> str:
        return f"RedisStateStore({redact_url(self._url)!r}, prefix={self._prefix!r})"

    def holds_state_at(self, url: str, *, prefix: str) -> bool:
        """Whether this store reads state from the ``prefix`` hashes of the server at ``url``
        (where a sink that commits checkpoints with its records writes them)."""
        return url == self._url and prefix == self._prefix

    def _hash(self, namespace: str) -> str:
        return redis_state_key(self._prefix, namespace)

    def _connect(self) -> Redis:
        if self._client is None:
            self._client = open_redis_client(
                self._url, timeout=self._timeout, needed_by="Redis state"
            )
        return self._client

    async def _run(self, work: Callable[[Redis], Awaitable[T]]) -> T:
        import redis.exceptions as rex

        try:
            return await work(self._connect())
        except (rex.ConnectionError, rex.TimeoutError, OSError) as exc:
            raise StateStoreUnavailableError(
                f"Redis state store {redact_url(self._url)} unreachable: {exc}"
            ) from None
        except rex.RedisError as exc:
            raise StateError(f"Redis state store: {exc}") from None

    async def get(self, namespace: str, key: str) -> StoredValue | None:
        check_names(namespace, key)

        async def work(r: Redis) -> Any:
            return await r.hget(self._hash(namespace), key)

        raw: bytes | None = await self._run(work)
        return None if raw is None else _parse(raw)

    async def put(
        self,
        namespace: str,
        key: str,
        value: Mapping[str, Any],
        *,
        if_version: int | None = None,
    ) -> int:
        text = check_put(namespace, key, value, if_version)
        args = [key, "" if if_version is None else str(if_version)]
        args += [repr(self._clock.time()), text]

        async def work(r: Redis) -> Any:
            return await r.eval(_PUT, 1, self._hash(namespace), *args)

        result = int(await self._run(work))
        if result < 0:
            raise conflict_error(namespace, key, if_version, -1 - result)
        return result

    async def delete(self, namespace: str, key: str) -> bool:
        check_names(namespace, key)

        async def work(r: Redis) -> Any:
            return await r.hdel(self._hash(namespace), key)

        return int(await self._run(work)) > 0

    async def list(self, namespace: str) -> dict[str, StoredValue]:
        check_names(namespace)

        async def work(r: Redis) -> Any:
            return await r.hgetall(self._hash(namespace))

        raw: dict[bytes, bytes] = await self._run(work)
        return {k.decode(): _parse(raw[k]) for k in sorted(raw)}

    async def ping(self) -> None:
        """Round-trip to the server so an unreachable one fails now, with a clear error."""

        async def work(r: Redis) -> Any:
            return await r.ping()

        await self._run(work)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
