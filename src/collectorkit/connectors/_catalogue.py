"""Where connectors come from: the definitions shipped in the package, the entry-point group
``collectorkit.connectors`` and a folder the configuration names (``connectors_dir``).

Later sources replace earlier ones of the same name: a folder's ``okta.yaml`` overrides the
shipped ``okta``. An entry point may name a :class:`Connector`, a mapping, a path to a
definition file, or a callable returning one of those.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import yaml

from collectorkit._errors import ConfigError
from collectorkit._registry import unknown_name
from collectorkit.connectors._definition import Connector

__all__ = [
    "BUILTIN_DIR",
    "ENTRY_POINT_GROUP",
    "connector_catalogue",
    "get_connector",
    "read_connector_file",
]

BUILTIN_DIR = Path(__file__).resolve().parent / "definitions"
ENTRY_POINT_GROUP = "collectorkit.connectors"
_SUFFIXES = (".yaml", ".yml")


def read_connector_file(path: str | os.PathLike[str]) -> Connector:
    """The connector defined in the YAML file at ``path``."""
    where = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the connector file: {exc.strerror}", path=where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{where}:{mark.line + 1}" if mark else where
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path=at) from None
    return Connector.from_mapping(data, origin=where)


def _read_dir(folder: Path) -> dict[str, Connector]:
    if not folder.is_dir():
        raise ConfigError("is not a folder of connector definitions", path=str(folder))
    found: dict[str, Connector] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in _SUFFIXES:
            connector = read_connector_file(path)
            found[connector.name] = connector
    return found


@functools.cache
def _builtin() -> dict[str, Connector]:
    return _read_dir(BUILTIN_DIR)


def _from_entry_point(value: Any, origin: str) -> Connector:
    if isinstance(value, Connector):
        return value
    if isinstance(value, str | os.PathLike):
        return read_connector_file(value)
    if isinstance(value, Mapping):
        return Connector.from_mapping(value, origin=origin)
    if callable(value):
        made: Callable[[], Any] = value
        return _from_entry_point(made(), origin)
    raise ConfigError(
        f"names a {type(value).__name__}; expected a Connector, a mapping or a file path",
        path=origin,
    )


def _entry_points() -> dict[str, Connector]:
    found: dict[str, Connector] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {point.name} = {point.value}"
        try:
            loaded = point.load()
        except Exception as exc:
            raise ConfigError(f"cannot load: {type(exc).__name__}: {exc}", path=origin) from None
        connector = _from_entry_point(loaded, origin)
        found[connector.name] = connector
    return found


def connector_catalogue(
    connectors_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Connector]:
    """Every connector by name: shipped, from entry points, then from ``connectors_dir``."""
    found = dict(_builtin())
    found.update(_entry_points())
    if connectors_dir is not None:
        found.update(_read_dir(Path(connectors_dir)))
    return found


def get_connector(
    name: object, connectors_dir: str | os.PathLike[str] | None = None, *, path: str = "connector"
) -> Connector:
    """The connector called ``name``; an unknown name lists the known ones."""
    catalogue = connector_catalogue(connectors_dir)
    if isinstance(name, str) and name in catalogue:
        return catalogue[name]
    raise unknown_name("connector", name, catalogue, path=path)
