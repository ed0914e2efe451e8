"""Loading and validating the configuration file, before anything runs.

``load_config("collectorkit.yaml")`` (or a dict) reads YAML, resolves ``${...}`` references,
validates, and returns a frozen :class:`Config`; otherwise it raises one
:class:`ConfigValidationError` listing every problem with its YAML path — never a traceback of a
library. Resolved secrets are registered with the log redactor.

A hostile file cannot exhaust the process: nesting deeper than :data:`MAX_YAML_DEPTH` levels and
documents that expand (through aliases) to more than :data:`MAX_YAML_VALUES` values are refused
while composing, before anything is built.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from collectorkit._errors import ConfigError
from collectorkit._redact import redact, register_secret
from collectorkit.config._issues import ConfigValidationError, translate_errors
from collectorkit.config._models import Config, secret_values_in
from collectorkit.config._refs import ConfigIssue, resolve_references
from collectorkit.config._source import DEV_TOKEN

__all__ = [
    "MAX_YAML_DEPTH",
    "MAX_YAML_VALUES",
    "load_config",
    "parse_config_text",
    "register_secrets",
]

MAX_YAML_DEPTH = 64
"""Deepest nesting of mappings and lists a configuration file may have."""
MAX_YAML_VALUES = 200_000
"""Most values (scalars, mappings, lists) a file may expand to, every alias counted in full."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key written twice in one mapping (YAML keeps the last),
    nesting deeper than :data:`MAX_YAML_DEPTH` and alias bombs (:data:`MAX_YAML_VALUES`)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self._depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"nested deeper than {MAX_YAML_DEPTH} levels",
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_document(self, node: yaml.Node) -> Any:
        if _expanded_size(node, {}) > MAX_YAML_VALUES:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"the document expands to more than {MAX_YAML_VALUES} values through its"
                " aliases (*name); write the repeated parts out or use fewer aliases",
                node.start_mark,
            )
        return super().construct_document(node)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values ``node`` stands for once every alias is copied out (each shared node is
    counted once per use, but computed once). Recursion is bounded by :data:`MAX_YAML_DEPTH`."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = size
    return size


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# ``${VAR}`` and path templates such as ``./out/{source}/{date}.jsonl`` are not valid plain
# scalars inside a YAML flow mapping (``{type: jsonl, path: ./out/{source}.jsonl}``), yet that is
# how people write them. Their braces are swapped for private-use characters before parsing (same
# length, so error columns stay right) and swapped back in every string afterwards.
_TEMPLATE = re.compile(r"\$\{[^{}\n]*\}|(?<=[^\s,\[\]{}:'\"])\{[A-Za-z_][A-Za-z0-9_]*\}")
_HIDE = str.maketrans("{}", "\ue000\ue001")
_SHOW = str.maketrans("\ue000\ue001", "{}")


def _restore(value: Any) -> Any:
    if isinstance(value, str):
        return value.translate(_SHOW)
    if isinstance(value, dict):
        return {_restore(k): _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    return value


def parse_config_text(text: str, *, origin: str = "<config>") -> Any:
    """The YAML document in ``text``; a syntax error names ``origin:line:column``."""
    hidden = _TEMPLATE.sub(lambda m: m.group(0).translate(_HIDE), text)
    try:
        return _restore(yaml.load(hidden, Loader=_UniqueKeyLoader))  # noqa: S506 - SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark else origin
        problem = (exc.problem or exc.context or "invalid YAML").translate(_SHOW)
        if "block" in problem or "indentation" in problem:
            problem += " (check the indentation of this line and the one above)"
        raise ConfigError(f"invalid YAML: {problem}", path=where) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=origin) from None


def register_secrets(values: Iterable[str]) -> None:
    """Have the redactor mask each value from now on (the development placeholder
    ``dev-dummy-token`` is no credential: it stays readable in hints)."""
    for value in values:
        if value != DEV_TOKEN:
            register_secret(value)


def _masked(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """A reason may quote a value of the file: URL passwords and the file's secrets never show."""
    return [(path, redact(reason)) for path, reason in issues]


def _check_buildable(config: Config) -> list[ConfigIssue]:
    """Let each layer check what it will be given (options of processors, sinks, paging ...)."""
    build = importlib.import_module("collectorkit.config._build")
    issues: list[ConfigIssue] = build.check_config(config)
    return issues


def _read(source: str | os.PathLike[str]) -> tuple[Any, str]:
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read the configuration file: {reason}", path=str(path)) from None
    return parse_config_text(text, origin=str(path)), str(path)


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Validate a configuration file (a path) or the same structure as a mapping.

    ``env`` is where ``${VAR}`` references are looked up (default ``os.environ``).
    """
    if isinstance(source, Mapping):
        data: Any = dict(source)
        origin = "<config>"
    else:
        data, origin = _read(source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigValidationError(
            [("(top level)", f"the configuration must be a mapping, got {type(data).__name__}")],
            origin=origin,
        )
    data, issues, secrets = resolve_references(data, os.environ if env is None else env)
    # masked from here on, in errors too, whether or not the file turns out valid
    register_secrets([*secrets, *secret_values_in(data)])
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        bad_refs = {path for path, _ in issues}
        found = translate_errors(exc.errors(), data, Config, secrets)
        issues += [issue for issue in found if issue[0] not in bad_refs]
        raise ConfigValidationError(_masked(issues), origin=origin) from None
    if not issues:  # an unresolved reference would only cause follow-up errors here
        issues = _check_buildable(config)
    if issues:
        raise ConfigValidationError(_masked(issues), origin=origin)
    register_secrets([*secrets, *config.secret_values()])
    return config
