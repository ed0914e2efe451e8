"""What every built-in source shares: its id and ``async with``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

__all__ = ["SourceBase"]


class SourceBase(ABC):
    """A source's id (:attr:`source_id`, and the seed's ``get_source_id()``) and ``async with``
    (connect on entry, :meth:`aclose` on exit). A subclass sets ``_source_id`` and implements
    :meth:`connect` and :meth:`aclose`."""

    _source_id: str

    @property
    def source_id(self) -> str:
        return self._source_id

    def get_source_id(self) -> str:
        """The seed's spelling of :attr:`source_id`."""
        return self._source_id

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
