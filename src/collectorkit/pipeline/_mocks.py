"""Test doubles with the seed's names (``collectors.mocks``): they record what they were given."""

from __future__ import annotations

from typing import Any

from collectorkit._errors import ProcessingError
from collectorkit._records import Record
from collectorkit.pipeline._base import BaseProcessor
from collectorkit.pipeline._events import ErrorHandler, ErrorInfo, EventEmitter, SystemEvent

__all__ = ["MockErrorHandler", "MockEventEmitter", "MockProcessor"]


class MockProcessor(BaseProcessor):
    """Passes records through (adding ``_processed_by``), remembering each one in ``calls``.

    ``fail_with`` makes every call fail with that reason (the record goes to dead-letter).
    """

    def __init__(self, name: str = "mock_processor", *, fail_with: str | None = None) -> None:
        self.name = name
        self.fail_with = fail_with
        self.calls: list[Record] = []

    def __call__(self, record: Record) -> Record | None:
        self.calls.append(record)
        if self.fail_with is not None:
            raise ProcessingError(self.fail_with)
        return {**record, "_processed_by": self.name}


class MockEventEmitter(EventEmitter):
    """An :class:`EventEmitter` that also keeps every emitted event in ``events``."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[SystemEvent] = []

    async def emit(self, event: SystemEvent) -> None:
        self.events.append(event)
        await super().emit(event)

    def of_type(self, event_type: Any) -> list[SystemEvent]:
        return [e for e in self.events if e.event_type == event_type]


class MockErrorHandler(ErrorHandler):
    """An :class:`ErrorHandler` that keeps every report (no history limit) and logs nothing."""

    def __init__(self) -> None:
        super().__init__(history=1_000_000)

    async def handle_error(self, error: ErrorInfo) -> None:
        self.errors.append(error)
