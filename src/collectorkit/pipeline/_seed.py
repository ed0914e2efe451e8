"""Seed 003's processing interfaces: ``IProcessor`` and ``IProcessingManager``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from collectorkit.pipeline._base import ProcessingResult

__all__ = ["IProcessingManager", "IProcessor"]


class IProcessor(ABC):
    """Base class of a seed-style processor: ``async process(data) -> ProcessingResult``.

    A :class:`~collectorkit.pipeline.Pipeline` runs these like any other processor: a failed
    result sends the record to dead-letter with ``result.error`` as the reason, a successful
    result with ``processed_data=None`` drops it. Built-in processors are plain callables and
    need no base class (they also offer ``process``).
    """

    @property
    def name(self) -> str:
        return self.get_processor_name()

    @abstractmethod
    async def process(self, data: Any) -> ProcessingResult: ...

    @abstractmethod
    def get_processor_name(self) -> str: ...

    def validate_input(self, data: Any) -> bool:
        """Whether ``data`` is something :meth:`process` can work on."""
        return data is not None


class IProcessingManager(ABC):
    """Seed 003's processing manager: runs a sequence of processors over data.
    :class:`~collectorkit.pipeline.Pipeline` is the implementation."""

    @abstractmethod
    def add_processor(self, processor: Any) -> None: ...

    @abstractmethod
    async def process(self, data: Any) -> ProcessingResult: ...
