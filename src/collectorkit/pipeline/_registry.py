"""Processors by the names the YAML config uses (``pipeline: [{dedup: {key: id}}]``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from collectorkit._errors import ConfigError
from collectorkit._registry import Registry
from collectorkit.pipeline._dedup import DedupProcessor
from collectorkit.pipeline._mask import MaskProcessor
from collectorkit.pipeline._pipeline import Pipeline
from collectorkit.pipeline._timestamps import TimestampProcessor
from collectorkit.pipeline._transform import EnrichProcessor, FieldMapProcessor, FilterProcessor
from collectorkit.pipeline._validate import JSONValidationProcessor

__all__ = [
    "PROCESSORS",
    "build_pipeline",
    "build_processor",
    "processor_names",
    "register_processor",
]

ProcessorFactory = Callable[..., Any]


def _rename(**mapping: str) -> FieldMapProcessor:
    """``- rename: {old: new}``."""
    return FieldMapProcessor(mapping, name="rename")


def _drop(fields: Sequence[str] | str) -> FieldMapProcessor:
    """``- drop: [a, b.c]``."""
    return FieldMapProcessor(drop=[fields] if isinstance(fields, str) else fields, name="drop")


def _json_schema(**schema: Any) -> JSONValidationProcessor:
    """``- json_schema: {type: object, required: [id]}`` (or ``{schema: {...}}``)."""
    if set(schema) == {"schema"} and isinstance(schema["schema"], Mapping):
        schema = dict(schema["schema"])
    return JSONValidationProcessor("json_schema", schema=schema)


def _validate(required: Sequence[str] | str = (), **options: Any) -> JSONValidationProcessor:
    """``- validate: {required: [id], schema: {...}}`` or ``- validate: [id, created_at]``."""
    if "required_fields" in options:
        required = options.pop("required_fields")
    return JSONValidationProcessor(options.pop("name", "validate"), required, **options)


PROCESSORS: Registry[ProcessorFactory] = Registry(
    "processor",
    {
        "dedup": DedupProcessor,
        "drop": _drop,
        "enrich": EnrichProcessor,
        "filter": FilterProcessor,
        "json_schema": _json_schema,
        "map": FieldMapProcessor,
        "mask": MaskProcessor,
        "rename": _rename,
        "timestamp": TimestampProcessor,
        "timestamps": TimestampProcessor,
        "validate": _validate,
    },
)
"""Processor name → factory; the factory's parameters are that processor's options."""


def processor_names() -> list[str]:
    """Every processor name a config may use, sorted."""
    return list(PROCESSORS)


def register_processor(name: str, factory: ProcessorFactory) -> None:
    """Make ``factory(**options)`` available to configs as ``name``."""
    PROCESSORS.register(name, factory)


def _split(spec: Any, path: str) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping):
        if "name" in spec and set(spec) <= {"name", "options"}:
            spec = {str(spec["name"]): spec.get("options")}
        if "type" in spec:
            options = {k: v for k, v in spec.items() if k != "type"}
            return str(spec["type"]), options
        if len(spec) == 1:
            ((name, options),) = spec.items()
            if options is None:
                return str(name), {}
            if isinstance(options, Mapping):
                return str(name), dict(options)
            # shorthand: {filter: "severity == 'high'"} -> first positional argument
            return str(name), {"_": options}
    raise ConfigError(
        f"expected a processor name, {{name: {{options}}}} or {{type: name, ...}}, got {spec!r}",
        path=path,
    )


def build_processor(spec: Any, *, path: str = "pipeline[0]") -> Any:
    """One processor from its config form; errors name ``path``, the option and the value."""
    name, options = _split(spec, path)
    factory = PROCESSORS.lookup(name, path=path)
    args = [options.pop("_")] if "_" in options else []
    try:
        return factory(*args, **options)
    except ConfigError as exc:
        raise ConfigError(exc.reason, path=f"{path}.{name}.{exc.path or ''}".rstrip(".")) from None
    except TypeError as exc:
        raise ConfigError(f"bad options {sorted(options)} for {name!r}: {exc}", path=path) from None


def build_pipeline(specs: Sequence[Any] | None, *, path: str = "pipeline") -> Pipeline:
    """A :class:`Pipeline` from a config list (``None`` or ``[]``: an empty pipeline)."""
    if specs is None:
        return Pipeline()
    if isinstance(specs, str | Mapping) or not isinstance(specs, Sequence):
        raise ConfigError(f"expected a list of processors, got {specs!r}", path=path)
    return Pipeline(build_processor(s, path=f"{path}[{i}]") for i, s in enumerate(specs))
