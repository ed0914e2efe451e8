"""Resuming inside a page: which records of a page asked for again were already delivered.

A run that stops inside a page (a ``limit``, a batch ending mid-page) or on a last page without a
next cursor saves a position that asks for that same page again. By then the API may have
inserted records into it, dropped expired ones or repeated the previous page's tail, so counting
the records taken and skipping that many would drop records never delivered. The state names
them instead (``CollectorState.skip_keys``: content digests, at most one per record of the page),
and only a record identical to one delivered is skipped. A state that only counts (saved before
``skip_keys`` existed) skips nothing: the whole page is delivered again, which the sinks absorb
(they are idempotent on the record key), whereas a wrong skip would lose records for good.
"""

from __future__ import annotations

from collectorkit._records import Record, all_records, field_values, is_record, record_digest
from collectorkit.collect._state import CollectorState

__all__ = ["PageProgress"]


class PageProgress:
    """What of one fetched page is known to be delivered, from the state it was asked for with."""

    __slots__ = ("_digests", "_first", "_known", "_records", "_unique")

    def __init__(
        self, state: CollectorState, records: list[Record], *, unique_ids: bool = False
    ) -> None:
        """``unique_ids``: the caller already knows an identifying field differs in every
        record (the walk's new-key watch hashed them)."""
        self._known = state.skip_keys if state.skip > 0 else frozenset()
        self._records = records
        self._unique = unique_ids
        self._digests: list[str] | None = None
        self._first: dict[str, int] | None = None

    @property
    def resumed(self) -> bool:
        """True when some records of this page are known delivered by an earlier run."""
        return bool(self._known)

    def delivered(self, index: int) -> bool:
        """Whether ``records[index]`` was delivered by an earlier run."""
        return bool(self._known) and self._digest_list()[index] in self._known

    @property
    def may_repeat(self) -> bool:
        """False when no record of the page can be an earlier one again, so the page needs no
        digests: some top-level field (``id``, ``uuid``, ``alert_id`` …, whatever the API
        calls it) holds a string or number that differs in every record."""
        records = self._records
        if len(records) < 2 or self._unique:
            return False
        first = records[0]
        if not is_record(first) or not all_records(records):
            return True
        for name, value in first.items():
            if isinstance(value, str | int) and _all_differ(records, name):
                return False
        return True

    def repeated(self, index: int) -> bool:
        """Whether ``records[index]`` is identical to an earlier record of this page (an API
        repeating a record within a page: it is delivered once)."""
        digests = self._digest_list()
        if self._first is None:
            self._first = {}
            for i, digest in enumerate(digests):
                self._first.setdefault(digest, i)
        return self._first[digests[index]] < index

    def state_after(self, position: CollectorState, through: int) -> CollectorState:
        """``position`` naming the delivered records when it asks for this page again.

        ``position`` is the paginator's; when its ``skip`` is above 0 it re-requests this page,
        and every record before index ``through`` is delivered, as are the ones known from an
        earlier run. Otherwise the position moved on and names none.
        """
        if position.skip <= 0:
            return position
        digests = self._digest_list()
        keys = {d for i, d in enumerate(digests) if i < through or d in self._known}
        return position.replace(skip_keys=frozenset(keys))

    def _digest_list(self) -> list[str]:
        if self._digests is None:
            self._digests = [record_digest(r) for r in self._records]
        return self._digests


def _all_differ(records: list[Record], name: str) -> bool:
    """Whether every record holds a different string or number at ``name``."""
    values = field_values(records, name)
    if not set(map(type, values)) <= _KEY_TYPES:
        return False
    return len(set(values)) == len(values)


_KEY_TYPES = {str, int, bool}  # isinstance(value, str | int), told by type at C speed
