"""The HTTP collector (:class:`~collectorkit.CollectorClient`) as a data source."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from collectorkit._errors import SourceError
from collectorkit._records import Record
from collectorkit.collect import CollectorBlueprint, CollectorClient, CollectorState
from collectorkit.sources._base import SourceBase

__all__ = ["HTTPCollectorSource"]


class HTTPCollectorSource(SourceBase):
    """A :class:`~collectorkit.CollectorClient` behind the :class:`~collectorkit.typing.DataSource`
    interface, resuming where the last handed-out records end.

    ``collect()`` runs one collection (up to ``limit`` records); ``collect_stream()`` yields each
    page's records as they arrive. After either, :attr:`state` is the collector state that
    resumes right after the records handed out so far: save it (``state.to_dict()``) once they
    are stored, and pass it back as ``resume_state`` on the next start. A failed collection
    leaves :attr:`state` where it was, so nothing is skipped.
    """

    def __init__(
        self,
        blueprint: CollectorBlueprint | CollectorClient,
        *,
        source_id: str | None = None,
        resume_state: CollectorState | Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> None:
        if isinstance(blueprint, CollectorClient):
            self._client: CollectorClient | None = blueprint
            self.blueprint = blueprint.blueprint
            self._owns_client = False
        else:
            self._client = None
            self.blueprint = blueprint
            self._owns_client = True
        self._source_id = source_id or self.blueprint.name
        if isinstance(resume_state, Mapping):
            resume_state = CollectorState.from_dict(resume_state)
        self._state: CollectorState | None = resume_state
        self.limit = limit

    def __repr__(self) -> str:
        return f"HTTPCollectorSource(source_id={self._source_id!r})"

    @property
    def state(self) -> CollectorState | None:
        """The state after the last records handed out (``None`` before the first run)."""
        return self._state

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def connect(self) -> None:
        """Create the collector (idempotent); connections open on the first request."""
        if self._client is None:
            self._client = CollectorClient(self.blueprint)

    async def aclose(self) -> None:
        """Close the collector's connections (a collector passed in is left to its owner)."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def _require(self) -> CollectorClient:
        if self._client is None:
            raise SourceError(f"{self._source_id}: not connected; call connect() first")
        return self._client

    async def collect(self) -> list[Record]:
        """One collection from the saved state; the records, with :attr:`state` moved past them."""
        result = await self._require().collect_events(limit=self.limit, resume_state=self._state)
        self._state = result.state
        return list(result.events)

    async def collect_stream(self) -> AsyncIterator[list[Record]]:
        """Each page's records as it arrives (empty pages are skipped, their state kept).

        With the ``concurrent`` strategy the shards are walked ``blueprint.concurrency`` at once.
        """
        concurrent = self.blueprint.default_strategy == "concurrent"
        stream = self._require().iter_pages(
            limit=self.limit,
            resume_state=self._state,
            concurrency=self.blueprint.concurrency if concurrent else 1,
        )
        try:
            async for page in stream:
                self._state = page.state
                if page.events:
                    yield list(page.events)
        finally:
            await stream.aclose()
