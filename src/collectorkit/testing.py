"""Helpers for testing collectors and plug-ins: fake clock, mock transport, memory stores, sinks.

Our own tests use these; so can yours.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from collectorkit._clock import FakeClock
from collectorkit.compat import MockDataSource, MockStorageBackend
from collectorkit.http._mock_transport import MockTransport
from collectorkit.http._retry import backoff_disabled, set_backoff_disabled
from collectorkit.pipeline import MockErrorHandler, MockEventEmitter, MockProcessor
from collectorkit.sinks import MemorySink
from collectorkit.state import MemoryStateStore, MockStorageClient

__all__ = [
    "CapturingSink",
    "FakeClock",
    "MemorySink",
    "MemoryStateStore",
    "MockDataSource",
    "MockErrorHandler",
    "MockEventEmitter",
    "MockProcessor",
    "MockStorageBackend",
    "MockStorageClient",
    "MockTransport",
    "no_backoff",
    "set_testing",
]

CapturingSink = MemorySink
"""A sink that keeps what it was given (``.records`` by key, ``.data`` in order)."""


def set_testing(*, no_backoff: bool) -> None:
    """``no_backoff=True``: every retry wait and server-requested pause becomes zero."""
    set_backoff_disabled(no_backoff)


@contextmanager
def no_backoff() -> Iterator[None]:
    """Retries happen at once inside this block (restores the previous setting after)."""
    previous = backoff_disabled()
    set_backoff_disabled(True)
    try:
        yield
    finally:
        set_backoff_disabled(previous)
