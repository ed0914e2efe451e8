"""What every built-in processor shares: the seed's ``process()`` face over a plain callable."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from collectorkit._errors import ProcessingError
from collectorkit._records import Record

__all__ = ["BaseProcessor", "ProcessingResult", "coerce_record"]


@dataclass(frozen=True, slots=True)
class ProcessingResult:
    """The outcome of processing one piece of data (the seed's model).

    ``processed_data`` is ``None`` when processing failed (``error`` says why) and also when a
    processor dropped the record on purpose (a filter, a duplicate) with ``success=True``.
    ``processing_time`` is in seconds and takes no part in equality.
    """

    success: bool
    processed_data: Any = None
    error: str | None = None
    processing_time: float = field(default=0.0, compare=False)


def coerce_record(data: Any) -> Record:
    """``data`` as a JSON object: dicts pass through, bytes/str are parsed as JSON.

    Raises :class:`ProcessingError` naming the problem (bad JSON, not an object).
    """
    if isinstance(data, Mapping):
        return data if isinstance(data, dict) else dict(data)
    if isinstance(data, bytes | bytearray | memoryview | str):
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ProcessingError(f"JSON decode error: {exc}") from None
        if not isinstance(parsed, dict):
            raise ProcessingError(f"expected a JSON object, got {type(parsed).__name__}")
        return parsed
    raise ProcessingError(f"Invalid data type: {type(data).__name__}")


class BaseProcessor:
    """A processor is a callable ``record -> record | None``; this adds the seed's async API.

    Subclasses implement ``__call__`` and never mutate the record they get (return a new dict):
    the pipeline keeps the original for the dead-letter sink. Raise :class:`ProcessingError` to
    reject a record with a reason; return ``None`` to drop it on purpose.
    """

    name: str = "processor"

    def __call__(self, record: Record) -> Record | None:
        raise NotImplementedError

    async def process(self, data: Any) -> ProcessingResult:
        """Process one record given as a dict, JSON bytes or JSON text (never raises)."""
        start = time.perf_counter()
        try:
            out = self(coerce_record(data))
        except ProcessingError as exc:
            return ProcessingResult(False, None, exc.reason, time.perf_counter() - start)
        return ProcessingResult(True, out, None, time.perf_counter() - start)

    def get_processor_name(self) -> str:
        return self.name

    def validate_input(self, data: Any) -> bool:
        """Whether ``data`` is something :meth:`process` can work on."""
        return data is not None

    def commit(self) -> None:
        """The records processed since the last commit were delivered (see ``DedupProcessor``)."""

    def rollback(self) -> None:
        """The records processed since the last commit were *not* delivered; forget them."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
