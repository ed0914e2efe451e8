"""The JSON Schema of the configuration file, published at ``docs/config.schema.json``.

Generated from the models, so it cannot drift from what :func:`load_config` accepts (a test checks
the committed file is current). Regenerate with ``python -m collectorkit.config._schema``.
Sink types and processor names come from registries that plug-ins extend, so the schema leaves them
open strings; ``collectorkit validate`` checks them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from collectorkit.config._models import Config

__all__ = ["SCHEMA_ID", "config_json_schema", "render_config_schema"]

SCHEMA_ID = "https://collectorkit.dev/config.schema.json"


def config_json_schema() -> dict[str, Any]:
    """The schema of the YAML file (by the names written in the file, e.g. ``json``)."""
    schema = Config.model_json_schema(by_alias=True, mode="validation")
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
    """Write the schema to the path given (default ``docs/config.schema.json``)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "docs/config.schema.json")
    target.write_text(render_config_schema(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
