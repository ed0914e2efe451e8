"""Watermarks: the last successfully collected timestamp of each data source.

A watermark is one record per source in namespace ``watermarks`` of any state store. The rules
that move it live in :func:`apply_run`, a pure function that the manager, the mock client and the
storage service all share:

- ``success`` and ``partial`` runs move ``last_successful_timestamp`` to the run's timestamp, but
  never backwards (an older timestamp keeps the newer one);
- a ``failed`` run records its status and ``error_message`` and leaves
  ``last_successful_timestamp`` where it was, so the next run retries the same window;
- every run sets ``last_run_timestamp`` (wall-clock time of the update) and ``records_collected``;
- a timestamp more than ``max_future`` seconds after now is refused
  (:func:`collectorkit._instants.check_not_future`): it would pin the watermark for good.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, NamedTuple

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import ConfigError, StateConflictError, StateError
from collectorkit._instants import DEFAULT_MAX_FUTURE, check_max_future, check_not_future
from collectorkit.state._timestamps import format_timestamp, parse_timestamp
from collectorkit.state._values import check_names
from collectorkit.typing import StateStore

__all__ = [
    "WATERMARK_NAMESPACE",
    "WATERMARK_STATUSES",
    "Watermark",
    "WatermarkManager",
    "WatermarkScan",
    "apply_run",
]

logger = logging.getLogger("collectorkit.state")

WATERMARK_NAMESPACE = "watermarks"
WATERMARK_STATUSES = ("failed", "partial", "success")
_MAX_ERROR = 4000


@dataclass(frozen=True, slots=True, kw_only=True)
class Watermark(Mapping[str, Any]):
    """One source's watermark. Reads as a mapping too (``watermark["status"]``), as in the seed.

    Timestamps are aware UTC datetimes; ``last_successful_timestamp`` is ``None`` until a run
    succeeds.
    """

    source_id: str
    last_successful_timestamp: datetime | None
    last_run_timestamp: datetime
    status: str
    records_collected: int = 0
    error_message: str | None = None

    def __getitem__(self, name: str) -> Any:
        if name not in _FIELDS:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELDS)

    def __len__(self) -> int:
        return len(_FIELDS)

    def to_json(self) -> dict[str, Any]:
        """The JSON form (the storage-service API): timestamps as ``2024-01-01T12:00:00Z``."""
        last = self.last_successful_timestamp
        return {
            "source_id": self.source_id,
            "last_successful_timestamp": format_timestamp(last) if last else None,
            "last_run_timestamp": format_timestamp(self.last_run_timestamp),
            "status": self.status,
            "records_collected": self.records_collected,
            "error_message": self.error_message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Watermark:
        """Parse the JSON form; raises :class:`~collectorkit.StateError` when it is malformed."""
        try:
            last = data.get("last_successful_timestamp")
            return cls(
                source_id=str(data["source_id"]),
                last_successful_timestamp=None if last is None else parse_timestamp(last),
                last_run_timestamp=parse_timestamp(data["last_run_timestamp"]),
                status=str(data["status"]),
                records_collected=int(data.get("records_collected") or 0),
                error_message=data.get("error_message"),
            )
        except KeyError as exc:
            raise StateError(f"malformed watermark record: {exc} is missing") from None
        except (TypeError, ValueError) as exc:
            raise StateError(f"malformed watermark record: {exc}") from None


_FIELDS = tuple(f.name for f in fields(Watermark))


def apply_run(
    previous: Watermark | None,
    *,
    source_id: str,
    timestamp: Any,
    status: str,
    now: float,
    records_collected: int = 0,
    error_message: str | None = None,
    max_future: float = DEFAULT_MAX_FUTURE,
) -> Watermark:
    """The watermark after one run (see the module docstring for the rules).

    Raises :class:`~collectorkit.ConfigError` naming the field for an unknown status, a
    successful run without a timestamp, an unparseable or far-future timestamp or a negative
    count.
    """
    check_names(WATERMARK_NAMESPACE, source_id)
    if status not in WATERMARK_STATUSES:
        raise ConfigError(
            f"unknown status {status!r}; use one of {', '.join(WATERMARK_STATUSES)}", path="status"
        )
    if isinstance(records_collected, bool) or not isinstance(records_collected, int):
        raise ConfigError(
            f"must be an integer, got {records_collected!r}", path="records_collected"
        )
    if records_collected < 0:
        raise ConfigError(f"must be >= 0, got {records_collected}", path="records_collected")
    if error_message is not None and not isinstance(error_message, str):
        raise ConfigError(f"must be a string, got {error_message!r}", path="error_message")
    last = previous.last_successful_timestamp if previous else None
    if status != "failed":
        if timestamp is None:
            raise ConfigError(f"required for a {status!r} run", path="timestamp")
        new = parse_timestamp(timestamp)
        check_not_future(new, now=now, tolerance=max_future, field="timestamp")
        last = new if last is None or new > last else last
    elif timestamp is not None:
        parse_timestamp(timestamp)  # reject garbage even though a failed run does not use it
    return Watermark(
        source_id=source_id,
        last_successful_timestamp=last,
        last_run_timestamp=parse_timestamp(now, field="now"),
        status=status,
        records_collected=records_collected,
        error_message=error_message[:_MAX_ERROR] if error_message else error_message,
    )


class WatermarkScan(NamedTuple):
    """Every readable watermark, and the source ids of stored records that are not (with why)."""

    watermarks: list[Watermark]
    malformed: dict[str, str]


class WatermarkManager:
    """Reads and moves watermarks in any :class:`~collectorkit.typing.StateStore`.

    Updates are read-modify-write with compare-and-set: when two collectors update the same
    source at once, the loser re-reads and re-applies its run (up to ``max_attempts`` times), so
    neither update is lost and the watermark still never moves backwards; updates of one source
    through one manager take turns, so only writers in other processes ever conflict (a storage
    service answering many collectors at once retries nothing). ``max_future`` is how many
    seconds past now a run's timestamp may lie.
    """

    def __init__(
        self,
        store: StateStore,
        *,
        clock: Clock | None = None,
        max_attempts: int = 20,
        max_future: float = DEFAULT_MAX_FUTURE,
    ) -> None:
        check_max_future(max_future)
        self._store = store
        self._clock: Clock = clock or SystemClock()
        self._max_attempts = max_attempts
        self._max_future = max_future
        self._turns: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @property
    def store(self) -> StateStore:
        return self._store

    async def get_watermark(self, source_id: str) -> Watermark | None:
        """The source's watermark, or ``None`` on its first run."""
        check_names(WATERMARK_NAMESPACE, source_id)
        stored = await self._store.get(WATERMARK_NAMESPACE, source_id)
        return None if stored is None else Watermark.from_json(stored.value)

    async def update_watermark(
        self,
        source_id: str,
        timestamp: Any = None,
        status: str = "success",
        *,
        records_collected: int = 0,
        error_message: str | None = None,
    ) -> Watermark:
        """Record one run of ``source_id`` and return the stored watermark.

        ``timestamp`` is the newest delivered record's time (datetime, ISO string or epoch
        seconds; naive means UTC) and is required unless ``status="failed"``.
        """
        record, _ = await self.record_run(
            source_id,
            timestamp,
            status,
            records_collected=records_collected,
            error_message=error_message,
        )
        return record

    async def record_run(
        self,
        source_id: str,
        timestamp: Any = None,
        status: str = "success",
        *,
        records_collected: int = 0,
        error_message: str | None = None,
    ) -> tuple[Watermark, bool]:
        """Like :meth:`update_watermark`, also saying whether the watermark was created."""
        turn = self._turns.get(source_id)
        if turn is None:
            turn = self._turns[source_id] = asyncio.Lock()
        async with turn:
            return await self._record_run(
                source_id, timestamp, status, records_collected, error_message
            )

    async def _record_run(
        self,
        source_id: str,
        timestamp: Any,
        status: str,
        records_collected: int,
        error_message: str | None,
    ) -> tuple[Watermark, bool]:
        for _ in range(self._max_attempts):
            stored = await self._store.get(WATERMARK_NAMESPACE, source_id)
            previous = None if stored is None else Watermark.from_json(stored.value)
            record = apply_run(
                previous,
                source_id=source_id,
                timestamp=timestamp,
                status=status,
                now=self._clock.time(),
                records_collected=records_collected,
                error_message=error_message,
                max_future=self._max_future,
            )
            version = 0 if stored is None else stored.version
            try:
                await self._store.put(
                    WATERMARK_NAMESPACE, source_id, record.to_json(), if_version=version
                )
            except StateConflictError:
                continue
            return record, stored is None
        raise StateConflictError(
            f"watermark {source_id!r}: gave up after {self._max_attempts} conflicting updates"
        )

    async def delete_watermark(self, source_id: str) -> bool:
        """Forget the source's watermark (its next run starts from the default lookback)."""
        check_names(WATERMARK_NAMESPACE, source_id)
        return await self._store.delete(WATERMARK_NAMESPACE, source_id)

    async def list_watermarks(self) -> list[Watermark]:
        """Every source's readable watermark, sorted by source id (an unreadable record is
        skipped with a warning; :meth:`scan_watermarks` names them)."""
        scan = await self.scan_watermarks()
        if scan.malformed:
            logger.warning(
                "skipped %d unreadable watermark record(s): %s",
                len(scan.malformed),
                ", ".join(sorted(scan.malformed)),
            )
        return scan.watermarks

    async def scan_watermarks(self) -> WatermarkScan:
        """Every readable watermark, sorted by source id, and the unreadable records' reasons:
        one corrupt record must not hide the others."""
        scan = WatermarkScan([], {})
        for key, stored in (await self._store.list(WATERMARK_NAMESPACE)).items():
            try:
                scan.watermarks.append(Watermark.from_json(stored.value))
            except StateError as exc:
                scan.malformed[key] = str(exc)
        return scan
