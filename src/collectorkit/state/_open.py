"""Pick a state store by URL, check it is reachable, and refuse to start without one.

``memory://`` · ``sqlite:///relative.db`` · ``sqlite:////absolute.db`` · ``postgresql://…`` ·
``redis://…`` · ``http(s)://…`` (the storage service). Without a URL, ``STORAGE_SERVICE_URL``
(and ``STORAGE_SERVICE_TOKEN``) from the environment select the storage service, as in the
storage-client guide.

Running on memory loses every watermark at exit: the collectors then restart from their default
lookback and ingest duplicates. So it happens only when asked: ``memory://``, or
``fallback_to_memory=True`` when no store is configured or the configured one is down — and the
fallback is logged at ERROR/WARNING level every time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from collectorkit._clock import Clock
from collectorkit._errors import (
    CollectorError,
    ConfigError,
    StateDamagedError,
    StateError,
    StateStoreUnavailableError,
)
from collectorkit._registry import Registry
from collectorkit.state._memory import MemoryStateStore
from collectorkit.state._mock import MockStorageClient
from collectorkit.state._postgres import PostgresStateStore
from collectorkit.state._redis import RedisStateStore
from collectorkit.state._service_client import StorageServiceClient
from collectorkit.state._sqlite import SQLiteStateStore
from collectorkit.state._values import redact_url
from collectorkit.typing import StateStore

__all__ = [
    "STATE_STORE_SCHEMES",
    "create_state_store",
    "open_state_store",
    "register_state_store",
    "sqlite_state_path",
    "state_from_environment",
    "state_url_scheme",
]

logger = logging.getLogger("collectorkit.state")

_Factory = Callable[[str, Mapping[str, Any]], StateStore]


def sqlite_state_path(url: str) -> str | None:
    """The file of a ``sqlite:///…`` state URL (``None`` for another scheme)."""
    return url[len("sqlite:///") :] if url.startswith("sqlite:///") else None


def state_from_environment(default: str, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The store to use when the configuration names none, and the sentence that says which.

    ``STORAGE_SERVICE_URL`` (with ``STORAGE_SERVICE_TOKEN``) selects the storage service, as in
    the storage-client guide; without it, ``default``.
    """
    env = os.environ if env is None else env
    url = env.get("STORAGE_SERVICE_URL") or None
    if url is None:
        where = sqlite_state_path(default) or redact_url(default)
        return default, (
            f"No storage service URL provided - using the local state store {where} "
            "(set STORAGE_SERVICE_URL or state: to keep watermarks elsewhere)"
        )
    if state_url_scheme(url) not in STATE_STORE_SCHEMES:
        raise ConfigError(
            f"{redact_url(url)!r} is not a state store URL (http(s)://storage-service:8000)",
            path="STORAGE_SERVICE_URL",
        )
    token = " with STORAGE_SERVICE_TOKEN" if env.get("STORAGE_SERVICE_TOKEN") else ""
    return url, f"Using the storage service at {redact_url(url)} (STORAGE_SERVICE_URL){token}"


def _sqlite(url: str, options: Mapping[str, Any]) -> StateStore:
    path = sqlite_state_path(url)
    if not path:
        raise ConfigError(
            f"invalid SQLite URL {url!r}: use sqlite:///relative.db or sqlite:////absolute.db",
            path="state",
        )
    return SQLiteStateStore(path, clock=options.get("clock"), lock=options.get("lock", True))


def _http(url: str, options: Mapping[str, Any]) -> StateStore:
    token = options.get("token") or os.environ.get("STORAGE_SERVICE_TOKEN") or None
    return StorageServiceClient(
        url, token=token, timeout=options.get("timeout", 30), clock=options.get("clock")
    )


STATE_STORE_SCHEMES: Registry[_Factory] = Registry(
    "state store URL scheme",
    {
        "memory": lambda url, o: MemoryStateStore(clock=o.get("clock")),
        "sqlite": _sqlite,
        "postgresql": lambda url, o: PostgresStateStore(url, clock=o.get("clock")),
        "postgres": lambda url, o: PostgresStateStore(url, clock=o.get("clock")),
        "redis": lambda url, o: RedisStateStore(url, clock=o.get("clock")),
        "rediss": lambda url, o: RedisStateStore(url, clock=o.get("clock")),
        "http": _http,
        "https": _http,
    },
    path="state",
    fold_case=True,
)
"""URL scheme → factory ``(url, options) -> StateStore``. Plug-ins may register more."""


def register_state_store(scheme: str, factory: _Factory) -> None:
    """Make ``scheme://…`` URLs create stores with ``factory(url, options)`` (plug-ins)."""
    STATE_STORE_SCHEMES.register(scheme, factory)


def state_url_scheme(url: str) -> str:
    """The scheme of a state URL (``""`` without one); only it is ever shown in errors."""
    return url.split("://", 1)[0].lower() if "://" in url else ""


def create_state_store(url: str, **options: Any) -> StateStore:
    """The store for ``url``, not yet connected (see :func:`open_state_store`)."""
    return STATE_STORE_SCHEMES.lookup(state_url_scheme(url))(url, options)


async def open_state_store(
    url: str | None = None,
    *,
    token: str | None = None,
    request_timeout: float = 30,
    fallback_to_memory: bool = False,
    clock: Clock | None = None,
    lock: bool = True,
) -> StateStore:
    """Create the store for ``url`` (or ``STORAGE_SERVICE_URL``) and check it answers.

    Raises :class:`~collectorkit.ConfigError` when nothing is configured and
    :class:`~collectorkit.StateStoreUnavailableError` when the store cannot be reached — unless
    ``fallback_to_memory=True``, which returns a :class:`MockStorageClient` and logs loudly that
    watermarks will not persist. ``lock=False`` opens a SQLite file without taking its writer
    lock (to look at the state of a running daemon).
    """
    url = url or os.environ.get("STORAGE_SERVICE_URL") or None
    if url is None:
        if fallback_to_memory:
            logger.warning(
                "No storage service URL provided - using mock storage client "
                "(watermarks will NOT persist across restarts)"
            )
            return MockStorageClient(clock=clock)
        raise ConfigError(
            "no state store configured: pass a URL (sqlite:///path.db, postgresql://…, "
            "redis://…, http(s)://…, memory://) or set STORAGE_SERVICE_URL; "
            "fallback_to_memory=True runs on memory and loses watermarks at exit",
            path="state",
        )
    store = create_state_store(url, token=token, timeout=request_timeout, clock=clock, lock=lock)
    try:
        ping = getattr(store, "ping", None)
        if ping is not None:
            await ping()
    except CollectorError as exc:
        await store.aclose()
        if not isinstance(exc, StateError) or isinstance(exc, StateDamagedError):
            raise  # a refused token, a damaged file: memory would not fix it, never fall back
        if not fallback_to_memory:
            raise StateStoreUnavailableError(
                f"refusing to start: {exc} — fix the state store, or choose memory:// "
                "(watermarks will NOT persist)"
            ) from None
        logger.error(
            "Storage Service health check failed - watermarks will not persist: state store "
            "%s is unavailable (%s). FALLING BACK TO MEMORY: every watermark is lost at exit "
            "and collectors re-collect from their default lookback after a restart",
            redact_url(url),
            exc,
        )
        return MockStorageClient(clock=clock)
    return store
