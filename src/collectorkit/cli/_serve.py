"""``collectorkit serve-storage`` and ``collectorkit simulate``: a server in the foreground."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator, Sequence

from collectorkit._instants import DEFAULT_MAX_FUTURE
from collectorkit.daemon._logging import configure_logging

__all__ = ["serve_storage_sync", "simulate_sync"]


def serve_storage_sync(
    *,
    host: str,
    port: int,
    state: str | None,
    token: str | None,
    max_future: float = DEFAULT_MAX_FUTURE,
) -> None:
    """``collectorkit serve-storage``: the storage service in the foreground until a signal."""
    from collectorkit.service import serve

    configure_logging()
    with _foreground():
        serve(host, port, state, token, max_future=max_future)


@contextlib.contextmanager
def _foreground() -> Iterator[None]:
    """Exit 0 after uvicorn's graceful shutdown on SIGINT or SIGTERM.

    uvicorn re-raises the signal it caught once it has shut down; SIGTERM's handler here turns
    that into the same quiet exit as Ctrl-C instead of death by signal.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def simulate_sync(
    *,
    host: str,
    port: int,
    seed: int,
    faults: str | None,
    records: int | None = None,
    profiles: Sequence[str] | None = None,
) -> None:
    """``collectorkit simulate``: the simulator in the foreground until Ctrl-C."""
    from collectorkit.simulator import run_simulator

    configure_logging()
    with _foreground():
        run_simulator(
            host,
            port,
            seed=seed,
            faults=faults,
            records=records,
            profiles=list(profiles) if profiles else None,
        )
