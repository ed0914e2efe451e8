"""collectorkit.pipeline: processors and the pipeline that runs them (seed 003's processing layer).

Also home of the seed's events and error reports (``EventEmitter``, ``ErrorHandler``), which the
delivery loop uses for every layer.
"""

from collectorkit.pipeline._base import BaseProcessor, ProcessingResult, coerce_record
from collectorkit.pipeline._dedup import DedupProcessor
from collectorkit.pipeline._events import (
    ErrorHandler,
    ErrorInfo,
    ErrorType,
    EventEmitter,
    EventType,
    SystemEvent,
)
from collectorkit.pipeline._mask import DEFAULT_SENSITIVE_NAMES as DEFAULT_SENSITIVE_NAMES
from collectorkit.pipeline._mask import MaskProcessor
from collectorkit.pipeline._mocks import MockErrorHandler, MockEventEmitter, MockProcessor
from collectorkit.pipeline._pipeline import DeadLetter, Pipeline, PipelineOutcome
from collectorkit.pipeline._registry import PROCESSORS as PROCESSORS
from collectorkit.pipeline._registry import (
    build_pipeline,
    build_processor,
    processor_names,
    register_processor,
)
from collectorkit.pipeline._timestamps import TimestampProcessor, to_utc_iso
from collectorkit.pipeline._transform import EnrichProcessor, FieldMapProcessor, FilterProcessor
from collectorkit.pipeline._validate import JSONValidationProcessor

__all__ = [
    "BaseProcessor",
    "DeadLetter",
    "DedupProcessor",
    "EnrichProcessor",
    "ErrorHandler",
    "ErrorInfo",
    "ErrorType",
    "EventEmitter",
    "EventType",
    "FieldMapProcessor",
    "FilterProcessor",
    "JSONValidationProcessor",
    "MaskProcessor",
    "MockErrorHandler",
    "MockEventEmitter",
    "MockProcessor",
    "Pipeline",
    "PipelineOutcome",
    "ProcessingResult",
    "SystemEvent",
    "TimestampProcessor",
    "build_pipeline",
    "build_processor",
    "coerce_record",
    "processor_names",
    "register_processor",
    "to_utc_iso",
]
