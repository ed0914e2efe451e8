"""The JSON Schema of the configuration file, published at ``docs/config.schema.json``.

Generated from the models, so it cannot drift from what :func:`load_config` accepts (a test checks
the committed file is current). Regenerate with ``python -m collectorkit.config._schema``.
Sink and processor options come from the factories of the sinks and pipeline registries (the
sinks and processors registered when the schema is generated).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from collectorkit.config._models import Config
from collectorkit.config._registry import (
    known_processor_names,
    known_sink_types,
    options_schema,
)
from collectorkit.pipeline import PROCESSORS
from collectorkit.sinks import SINKS

__all__ = ["SCHEMA_ID", "config_json_schema", "render_config_schema"]

SCHEMA_ID = "https://collectorkit.dev/config.schema.json"


def _hoist(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its own ``$defs`` moved into the document's (refs stay ``#/$defs/…``)."""
    for name, definition in schema.pop("$defs", {}).items():
        defs.setdefault(name, definition)  # the file's own definition of a name wins
    return schema


def _sink_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """``{type: <sink>, ...that sink's options}``, one variant per registered sink."""
    variants = [
        _hoist(options_schema(SINKS[name], tag="type", name=name), defs)
        for name in known_sink_types()
    ]
    return {"anyOf": variants, "description": "A sink: its type and that sink's options."}


def _processor_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """``- name``, or ``- name: {options}`` with that processor's options (or its one value)."""
    names = known_processor_names()
    one: dict[str, Any] = {}
    for name in names:
        options = _hoist(options_schema(PROCESSORS[name], tag="_", name=name), defs)
        options["properties"].pop("_", None)
        options["required"] = [r for r in options.get("required", []) if r != "_"]
        shorthand = {"type": ["string", "number", "boolean", "array", "null"]}
        one[name] = {"anyOf": [options, shorthand]}
    return {
        "anyOf": [
            {"enum": names},
            {
                "type": "object",
                "properties": one,
                "additionalProperties": False,
                "minProperties": 1,
                "maxProperties": 1,
            },
        ],
        "description": "A processor name, or {name: {options}} with that processor's options.",
    }


def config_json_schema() -> dict[str, Any]:
    """The schema of the YAML file (by the names written in the file, e.g. ``json``).

    Policies, auth kinds and pagination modes come from the library objects' constructors;
    sink and processor options from the factories in the sinks and pipeline registries.
    """
    schema = Config.model_json_schema(by_alias=True, mode="validation")
    defs = schema["$defs"]
    defs["SinkConfig"] = _sink_schema(defs)
    defs["ProcessorStep"] = _processor_schema(defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "collectorkit configuration",
        **schema,
    }


def render_config_schema() -> str:
    """The schema as the committed file holds it (stable key order, trailing newline)."""
    return json.dumps(config_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema to the path given (default ``docs/config.schema.json``, and then the
    reference generated from it, ``docs/configuration.md``, too)."""
    args = sys.argv[1:] if argv is None else argv
    if any(arg.startswith("-") for arg in args) or len(args) > 1:
        print(
            "usage: python -m collectorkit.config._schema [PATH]\n"
            "writes the configuration JSON Schema to PATH (default docs/config.schema.json, "
            "and then docs/configuration.md)",
            file=sys.stderr,
        )
        return 0 if args in (["-h"], ["--help"]) else 2
    target = Path(args[0] if args else "docs/config.schema.json")
    target.write_text(render_config_schema(), encoding="utf-8")
    if not args:
        from collectorkit.config._reference import main as write_reference

        write_reference([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
