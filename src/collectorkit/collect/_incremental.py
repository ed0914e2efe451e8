"""Incremental collection: time windows, the watermark and boundary dedup (sans-I/O).

Nothing here reads the clock: the collector passes ``now`` in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from collectorkit._durations import Seconds, parse_duration
from collectorkit._errors import ConfigError
from collectorkit._instants import instant_or_none
from collectorkit._records import Record, record_digest
from collectorkit.collect._paths import JSONPath, compile_path
from collectorkit.collect._spec import RequestSpec
from collectorkit.collect._state import CollectorState
from collectorkit.collect._time import format_instant, validate_time_format

__all__ = ["IncrementalConfig", "Window"]

START_PLACEHOLDER = "{start}"
END_PLACEHOLDER = "{end}"


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class IncrementalConfig:
    """Collect only what is new since the last run, in bounded time windows.

    The first run starts at ``now - initial_lookback`` (default 7 days); later runs at the
    watermark minus ``overlap``. A window ends at ``now - end_lag`` (records still being ingested
    are left for the next run), and at most ``max_window`` after its own start (overlap
    included), so a long gap is walked in windows that each finish within the time budget.
    A record dated after its window's end (a skewed clock, a typo) is delivered once, counted
    (``records_beyond_window``) and logged, but never moves the watermark.

    The window goes into the request as ``start_param``/``end_param`` (query, or JSON body where
    dots nest), and fills the ``{start}``/``{end}`` placeholders of request values: a value that
    is exactly a placeholder takes the formatted instant with its type (Cortex XDR filter lists,
    epoch ms), one that contains it gets it as text (Graph ``$filter=createdDateTime ge
    {start}``, CrowdStrike FQL).

    ``time_format``: ``iso8601``, ``epoch_s``, ``epoch_ms`` or a strftime pattern. Record
    timestamps (``timestamp_field``, JMESPath) are parsed as instants: ISO 8601 with any offset,
    or epoch seconds/milliseconds (``timestamp_unit``) — never compared as strings.

    ``ordered=True`` says records arrive oldest first within a window, so the watermark may
    follow each delivered page; with ``False`` (newest-first APIs such as Slack) it moves only
    when a window completes. Records at the watermark (and in the overlap) are remembered by
    ``id_field`` and instant, at most ``max_boundary_ids`` of them, so the overlap does not
    deliver them twice; a record re-delivered with a newer instant is new.

    ``filter="client"`` is for APIs without a time filter: every request reads the whole feed,
    and only records dated within the window (lookback or watermark minus overlap, up to
    ``now - end_lag``) and not delivered before are handed out, so each run delivers only what
    is new. A record dated after the window waits for a later run.

    ``initial_value`` makes the cursor an integer (an id or sequence number in the
    ``timestamp_field``) instead of a time: the first run asks for records after
    ``initial_value``, later runs after the greatest value delivered (``last_value``), sent as
    ``start_param`` or ``{start}``; ``end_value`` (``end_param``, ``{end}``) is the last value
    collected, after which runs are caught up. Records at the last value are remembered by id,
    as at a time watermark, so an API that answers ``>=`` delivers nothing twice.
    """

    timestamp_field: str
    id_field: str | None = "id"
    start_param: str | None = None
    end_param: str | None = None
    param_location: Literal["query", "body"] = "query"
    time_format: str = "iso8601"
    timestamp_unit: Literal["auto", "s", "ms"] = "auto"
    initial_lookback: Seconds = 7 * 86400.0
    overlap: Seconds = 0.0
    end_lag: Seconds = 0.0
    max_window: Seconds | None = None
    max_boundary_ids: int = 10_000
    ordered: bool = True
    filter: Literal["server", "client"] = "server"
    initial_value: int | None = None
    end_value: int | None = None
    _paths: dict[str, JSONPath | None] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        where = "incremental"
        self._paths["timestamp"] = compile_path(
            self.timestamp_field, field=f"{where}.timestamp_field"
        )
        self._paths["id"] = compile_path(self.id_field, field=f"{where}.id_field")
        validate_time_format(self.time_format, field=f"{where}.time_format")
        for name in ("initial_lookback", "overlap", "end_lag"):
            seconds = parse_duration(getattr(self, name), field=f"{where}.{name}")
            object.__setattr__(self, name, seconds)
        if self.max_window is not None:
            seconds = parse_duration(self.max_window, field=f"{where}.max_window")
            if seconds <= 0:
                raise ConfigError(
                    f"must be > 0, got {self.max_window!r}", path=f"{where}.max_window"
                )
            object.__setattr__(self, "max_window", seconds)
        if self.param_location not in ("query", "body"):
            raise ConfigError(
                f"expected query or body, got {self.param_location!r}",
                path=f"{where}.param_location",
            )
        _check_values(self.initial_value, self.end_value)
        if self.filter not in ("server", "client"):
            raise ConfigError(
                f"expected server or client, got {self.filter!r}", path=f"{where}.filter"
            )
        if self.timestamp_unit not in ("auto", "s", "ms"):
            raise ConfigError(
                f"expected auto, s or ms, got {self.timestamp_unit!r}",
                path=f"{where}.timestamp_unit",
            )
        if isinstance(self.max_boundary_ids, bool) or not isinstance(self.max_boundary_ids, int):
            raise ConfigError(
                f"expected an integer, got {self.max_boundary_ids!r}",
                path=f"{where}.max_boundary_ids",
            )

    # --- windows -------------------------------------------------------------------------------

    def plan_window(self, state: CollectorState, now: datetime) -> Window | None:
        """The window to walk next, or ``None`` when there is nothing new to ask for yet.

        A pinned window (``window_start`` and ``window_end``) is walked again; a
        ``window_start`` alone is where the walk goes on after a closed window. Otherwise a
        window starts at the watermark minus ``overlap`` (first run: ``now -
        initial_lookback``). It ends at ``now - end_lag``, and at most ``max_window`` after
        its own start, so the overlap too is walked in windows of at most ``max_window``.
        """
        if state.window_start is not None and state.window_end is not None:
            return Window(state.window_start, state.window_end)
        progress = state.watermark or now - timedelta(seconds=self.initial_lookback)
        end = (now - timedelta(seconds=self.end_lag)).replace(microsecond=0)
        if end <= progress:
            return None
        start = progress - timedelta(seconds=self.overlap) if state.watermark else progress
        if state.window_start is not None:
            start = state.window_start
        if self.max_window is not None:
            end = min(end, start + timedelta(seconds=self.max_window))
        return Window(start, end)

    @property
    def sequence(self) -> bool:
        """True when the cursor is an integer (``initial_value`` given), not a time."""
        return self.initial_value is not None

    def open_window(self, state: CollectorState, now: datetime) -> CollectorState | None:
        """``state`` with the window (or start value) to walk next pinned, or ``None`` when
        there is nothing new to ask for yet."""
        if self.initial_value is not None:
            if state.start_value is not None:
                return state
            start = self.initial_value if state.last_value is None else state.last_value
            if self.end_value is not None and start >= self.end_value:
                return None
            return state.replace(start_value=start)
        window = self.plan_window(state, now)
        if window is None:
            return None
        return state.replace(window_start=window.start, window_end=window.end)

    def walking(self, state: CollectorState) -> bool:
        """Whether ``state`` is inside a window (or integer walk) not yet closed."""
        return (state.start_value if self.sequence else state.window_end) is not None

    def apply_state(self, request: RequestSpec, state: CollectorState) -> RequestSpec:
        """``request`` with the window (or start value) pinned in ``state`` filled in."""
        if self.sequence:
            if state.start_value is None:
                return request
            return self._apply_bounds(request, state.start_value, self.end_value)
        if state.window_start is None or state.window_end is None:
            return request
        return self.apply_window(request, Window(state.window_start, state.window_end))

    def apply_window(self, request: RequestSpec, window: Window) -> RequestSpec:
        start = format_instant(window.start, self.time_format)
        end = format_instant(window.end, self.time_format)
        return self._apply_bounds(request, start, end)

    def _apply_bounds(self, request: RequestSpec, start: Any, end: Any) -> RequestSpec:
        mapping = {START_PLACEHOLDER: start}
        if end is not None:
            mapping[END_PLACEHOLDER] = end
        request = request.replace(
            params=_substitute(request.params, mapping), json=_substitute(request.json, mapping)
        )
        for name, value in ((self.start_param, start), (self.end_param, end)):
            if name is None or value is None:
                continue
            if self.param_location == "body":
                request = request.with_body_value(name, value)
            else:
                request = request.with_param(name, value)
        return request

    def close_window(self, state: CollectorState, *, bounded: bool = True) -> CollectorState:
        """``state`` after its window was walked to the end.

        ``bounded``: the request told the API where the window ends (``end_param`` or an
        ``{end}`` placeholder), so everything up to that end is in and the watermark may move
        there, past an empty stretch. An open-ended request only shows what the API had when it
        answered: the watermark stays at the newest record delivered, so a record that lands
        later with an older event time is still ahead of it (DESIGN: the watermark never moves
        past records that were not delivered).
        """
        if self.sequence:
            return self._close_sequence(state)
        ends = (state.watermark, state.window_end) if bounded else (state.watermark,)
        candidates = [t for t in ends if t is not None]
        instants = [datetime.fromtimestamp(v, tz=UTC) for v in state.boundary_ids.values()]
        candidates += [t for t in instants if _within(t, state.window_end)]
        watermark = max(candidates) if candidates else None
        # the next window starts where this one ended (cleared when the walk is caught up)
        closed = state.reset_position().replace(
            window_start=state.window_end if bounded else None,
            window_end=None,
            watermark=watermark,
        )
        return closed.replace(
            boundary_ids=self._prune(closed.boundary_ids, self._time_floor(watermark))
        )

    def _close_sequence(self, state: CollectorState) -> CollectorState:
        values = [int(v) for v in state.boundary_ids.values() if self._in_range(v)]
        if state.last_value is not None:
            values.append(state.last_value)
        last = max(values) if values else None
        closed = state.reset_position().replace(start_value=None, last_value=last)
        return closed.replace(boundary_ids=self._prune(closed.boundary_ids, last))

    def restart_window(self, state: CollectorState) -> CollectorState:
        """``state`` for a walk that lost its position (expired cursor): restart from the
        watermark (minus overlap) up to the current window's end."""
        restart = state.reset_position()
        if self.sequence:
            return restart.replace(start_value=None)
        if state.watermark is None:
            return restart
        start = state.watermark - timedelta(seconds=self.overlap)
        if state.window_start is not None:
            start = max(start, state.window_start)
        return restart.replace(window_start=start)

    # --- records -------------------------------------------------------------------------------

    def instant_of(self, record: Record) -> datetime | None:
        path = self._paths["timestamp"]
        value = path.search(record) if path is not None else None
        return instant_or_none(value, epoch_unit=self.timestamp_unit)

    def id_of(self, record: Record) -> str:
        path = self._paths["id"]
        value = path.search(record) if path is not None else None
        return "sha256:" + record_digest(record) if value is None else str(value)

    def value_of(self, record: Record) -> float | None:
        """Where ``record`` stands: its instant in epoch seconds, or its integer cursor value."""
        if not self.sequence:
            instant = self.instant_of(record)
            return None if instant is None else instant.timestamp()
        path = self._paths["timestamp"]
        return _integer(path.search(record) if path is not None else None)

    def is_duplicate(self, state: CollectorState, record: Record) -> bool:
        """True when ``record`` (same id, same instant) was already delivered at the boundary."""
        if not state.boundary_ids:
            return False
        value = self.value_of(record)
        if value is None:
            return False
        seen = state.boundary_ids.get(self.id_of(record))
        return seen is not None and seen == value

    def admits(self, state: CollectorState, record: Record) -> bool:
        """Whether ``record`` is new: not a boundary duplicate and, with ``filter="client"``,
        dated within the window being walked (a record without a readable instant is kept)."""
        if self.is_duplicate(state, record):
            return False
        if self.sequence:
            value = self.value_of(record)
            if value is None:
                return True
            if state.last_value is None:  # greater than the initial value
                return value > (self.initial_value or 0) and self._in_range(value)
            return value >= state.last_value and self._in_range(value)
        if self.filter == "server" or state.window_start is None or state.window_end is None:
            return True
        instant = self.instant_of(record)
        return instant is None or state.window_start <= instant <= state.window_end

    def delivered(self, state: CollectorState, records: Iterable[Record]) -> CollectorState:
        """``state`` after ``records`` were delivered: watermark and boundary ids advanced."""
        if self.sequence:
            return self._delivered_values(state, records)
        watermark = state.watermark
        fresh: list[tuple[str, float]] = []
        for record in records:
            instant = self.instant_of(record)
            if instant is None:
                continue
            newer = watermark is None or instant > watermark
            if self.ordered and newer and _within(instant, state.window_end):
                watermark = instant
            fresh.append((self.id_of(record), instant.timestamp()))
        if not fresh:
            return state
        boundary = dict(state.boundary_ids)
        boundary.update(fresh)
        floor = watermark if self.ordered else state.window_start or watermark
        return state.replace(
            watermark=watermark, boundary_ids=self._prune(boundary, self._time_floor(floor))
        )

    def _delivered_values(self, state: CollectorState, records: Iterable[Record]) -> CollectorState:
        last = state.last_value
        fresh: list[tuple[str, float]] = []
        for record in records:
            value = self.value_of(record)
            if value is None:
                continue
            if self.ordered and (last is None or value > last) and self._in_range(value):
                last = int(value)
            fresh.append((self.id_of(record), value))
        if not fresh:
            return state
        boundary = {**state.boundary_ids, **dict(fresh)}
        floor = last if self.ordered else state.start_value
        return state.replace(last_value=last, boundary_ids=self._prune(boundary, floor))

    def _in_range(self, value: float) -> bool:
        return self.end_value is None or value <= self.end_value

    def beyond(self, records: Iterable[Record], limit: datetime) -> list[tuple[str, datetime]]:
        """The id and instant of each of ``records`` dated after ``limit`` (a window end, or
        the collector's now): delivered, but the watermark stops at the window end."""
        out = []
        for record in records:
            instant = self.instant_of(record)
            if instant is not None and instant > limit:
                out.append((self.id_of(record), instant))
        return out

    def _time_floor(self, watermark: datetime | None) -> float | None:
        return None if watermark is None else watermark.timestamp() - self.overlap

    def _prune(self, boundary: Mapping[str, float], floor: float | None) -> dict[str, float]:
        """The boundary ids at or above ``floor``, the newest ``max_boundary_ids`` of them."""
        if floor is not None:
            kept = {k: v for k, v in boundary.items() if v >= floor}
        else:
            kept = dict(boundary)
        if len(kept) > self.max_boundary_ids:
            newest = sorted(kept.items(), key=lambda kv: kv[1])[-self.max_boundary_ids :]
            kept = dict(newest) if self.max_boundary_ids > 0 else {}
        return kept


def _integer(value: Any) -> float | None:
    """An integer cursor value of a record (an int, or a string of digits), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return float(int(value))
    return None


def _check_values(initial: Any, end: Any) -> None:
    for name, value in (("initial_value", initial), ("end_value", end)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"expected an integer, got {value!r}", path=f"incremental.{name}")
    if end is not None and initial is None:
        raise ConfigError(
            f"end_value {end!r} needs an initial_value (an integer cursor)",
            path="incremental.end_value",
        )
    if end is not None and initial is not None and end < initial:
        raise ConfigError(
            f"must not be below initial_value {initial!r}, got {end!r}",
            path="incremental.end_value",
        )


def _within(instant: datetime, window_end: datetime | None) -> bool:
    """Whether ``instant`` may move the watermark: a record dated after the window end (a
    skewed clock, a typo) is delivered but must not move it past what was asked for."""
    return window_end is None or instant <= window_end


def _substitute(value: Any, mapping: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        if value in mapping:
            return mapping[value]  # the whole value: keep its type (epoch numbers stay numbers)
        for placeholder, replacement in mapping.items():
            if placeholder in value:
                value = value.replace(placeholder, str(replacement))
        return value
    if isinstance(value, Mapping):
        return {k: _substitute(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, mapping) for v in value]
    return value
