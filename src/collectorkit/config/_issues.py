"""Pydantic's validation errors, translated into ours: path, bad value, what is allowed.

``sources[0].request.pagination.mode: 'curser' is not one of cursor, page, offset, link, none``.
Every problem of a file is collected and reported together in one :class:`ConfigValidationError`.
Values of secret-looking settings (and any resolved secret) are never shown.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Collection, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from collectorkit._errors import ConfigError
from collectorkit.config._objects import Options
from collectorkit.config._refs import ConfigIssue, format_path
from collectorkit.config._types import is_secret_name

__all__ = ["ConfigValidationError", "translate_errors"]

_QUOTED = re.compile(r"'([^']*)'")
# what a type error expected, by pydantic error type
_KINDS = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "a boolean (true or false)",
    "bool_type": "a boolean (true or false)",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


class ConfigValidationError(ConfigError):
    """Every problem found in one configuration; ``issues`` lists ``(path, message)`` pairs."""

    def __init__(self, issues: Sequence[ConfigIssue], *, origin: str | None = None) -> None:
        self.issues = list(issues)
        self.origin = origin
        lines = [f"{path}: {message}" for path, message in self.issues]
        if len(lines) == 1:
            text = lines[0]
        else:
            where = f" in {origin}" if origin else ""
            text = f"{len(lines)} problems{where}:\n" + "\n".join(f"  {line}" for line in lines)
        super().__init__(text)


def _show(value: Any, secret: bool) -> str:
    if secret:
        return "'***'"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _choices(expected: str) -> str:
    return ", ".join(_QUOTED.findall(expected)) or expected


def _unwrap(annotation: Any, parent: Any = None) -> list[Any]:
    """The concrete types an annotation may hold (Annotated/Optional/unions unwrapped);
    ``parent`` is the mapping the value sits in (a sibling setting may pick the variant)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        # a library object read from its options: the options models are what validate the file
        for marker in get_args(annotation)[1:]:
            if isinstance(marker, Options):
                return list(_variants(marker, parent))
        return _unwrap(get_args(annotation)[0], parent)
    if origin is Union or origin is types.UnionType:
        return [t for arg in get_args(annotation) for t in _unwrap(arg, parent)]
    return [annotation]


def _variants(marker: Options, parent: Any) -> list[type[BaseModel]]:
    """The options models a field may hold; one when a sibling setting names it (``chosen_by``)."""
    models = marker.models()
    chosen = parent.get(marker.chosen_by) if marker.chosen_by and isinstance(parent, dict) else None
    return [models[chosen]] if chosen in models else list(models.values())


def _step(candidates: list[Any], part: Any, data: Any, parent: Any = None) -> list[Any]:
    found: list[Any] = []
    for cand in candidates:
        origin = get_origin(cand)
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            for name, field in cand.model_fields.items():
                if part in (name, field.alias):
                    markers = [m for m in field.metadata if isinstance(m, Options)]
                    models = [m for marker in markers for m in _variants(marker, parent)]
                    found += models or _unwrap(field.annotation, parent)
        elif origin in (list, dict) and get_args(cand):
            found += _unwrap(get_args(cand)[-1])
    return _pick_variant(found, data)


def _pick_variant(candidates: list[Any], data: Any) -> list[Any]:
    """Of the models in a discriminated union, the one whose tag ``data`` carries."""
    if not isinstance(data, dict):
        return candidates
    for cand in candidates:
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            for tag in ("type", "mode"):
                field = cand.model_fields.get(tag)
                if field is not None and data.get(tag) in get_args(field.annotation):
                    return [cand]
    return candidates


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _models_at(root: type[BaseModel], loc: Sequence[Any], data: Any) -> list[type[BaseModel]]:
    """The model classes that validate the value at ``loc`` of the file."""
    candidates: list[Any] = [root]
    node = data
    for part in loc:
        parent, node = node, _child(node, part)
        candidates = _step(candidates, part, node, parent)
    return [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]


def _allowed_fields(root: type[BaseModel], loc: Sequence[Any], data: Any) -> list[str]:
    return [f.alias or n for m in _models_at(root, loc, data) for n, f in m.model_fields.items()]


def _tags(root: type[BaseModel], loc: Sequence[Any], data: Any, tag: str) -> list[str]:
    """The values a discriminator field ``tag`` may take at ``loc``."""
    found: list[str] = []
    for model in _models_at(root, loc, data):
        field = model.model_fields.get(tag)
        if field is not None:
            found += [str(a) for a in get_args(field.annotation)]
    return found


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _data_loc(loc: tuple[Any, ...], data: Any) -> tuple[tuple[Any, ...], Any, bool]:
    """The error's location in the file (union tags dropped), the value there, and if it exists."""
    kept: list[Any] = []
    node, exists = data, True
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if _has(node, part):
            node = node[part]
        elif not last or not isinstance(node, dict | list):
            continue  # a union member or validator name pydantic adds to the location
        else:
            node, exists = None, False
        kept.append(part)
    return tuple(kept), node, exists


def _message(error: ErrorDetails, value: Any, shown: str, allowed: list[str], part: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "literal_error":
        return f"{shown} is not one of {_choices(str(ctx.get('expected', '')))}"
    if kind == "union_tag_invalid":
        return f"{ctx.get('tag')!r} is not one of {_choices(str(ctx.get('expected_tags', '')))}"
    if kind == "union_tag_not_found":
        return f"is missing (one of {', '.join(allowed)})"
    if kind == "missing":
        return "is missing (required)"
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "needs at least one entry"
    if kind == "extra_forbidden":
        hint = difflib.get_close_matches(str(part), allowed, n=1)
        did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
        return f"unknown setting{did_you_mean} (allowed: {', '.join(allowed)})"
    if kind == "config_error":
        return str(ctx.get("reason", error["msg"]))
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind in _KINDS:
        if isinstance(value, dict | list):
            return f"must be {_KINDS[kind]}, not {shown}"
        return f"{shown} is not {_KINDS[kind]}"
    bounds = {
        "greater_than": "must be > {gt}",
        "greater_than_equal": "must be >= {ge}",
        "less_than": "must be < {lt}",
        "less_than_equal": "must be <= {le}",
        "too_short": "is too short (at least {min_length})",
        "too_long": "is too long (at most {max_length})",
        "string_too_short": "is too short (at least {min_length} characters)",
        "string_too_long": "is too long (at most {max_length} characters)",
        "string_pattern_mismatch": "does not match {pattern}",
    }
    if kind in bounds:
        return f"{shown} " + bounds[kind].format(**ctx)
    return f"{shown}: {error['msg']}"


def translate_errors(
    errors: Sequence[ErrorDetails],
    data: Any,
    root: type[BaseModel],
    secrets: Collection[str] = (),
) -> list[ConfigIssue]:
    """One ``(path, message)`` per pydantic error, located in ``data`` (the file as loaded)."""
    issues: list[ConfigIssue] = []
    kinds_at: dict[str, list[str]] = {}
    for error in errors:
        raw_loc = tuple(error["loc"])
        field = (error.get("ctx") or {}).get("field") if error["type"] == "config_error" else None
        if field:  # a library object's own check names its field: sources[0].retry.max_delay
            raw_loc += tuple(str(field).split("."))
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            # name the tag itself: sources[0].auth.type, not sources[0].auth
            raw_loc += (str((error.get("ctx") or {}).get("discriminator", "")).strip("'"),)
        loc, value, exists = _data_loc(raw_loc, data)
        if not exists and error["type"] != "missing" and error["type"] != "extra_forbidden":
            value = error.get("input")
        secret = any(is_secret_name(p) for p in loc if isinstance(p, str)) or (
            isinstance(value, str) and value in secrets
        )
        part = loc[-1] if loc else None
        allowed: list[str] = []
        if error["type"] == "extra_forbidden":
            allowed = _allowed_fields(root, loc[:-1], data)
        elif error["type"] == "union_tag_not_found":
            allowed = _tags(root, loc[:-1], data, str(part))
        path = format_path(loc)
        if error["type"] in _KINDS and path in kinds_at:
            # another member of a union refused the same value: say what all of them expect
            kinds_at[path].append(_KINDS[error["type"]])
            shown = _show(value, secret)
            message = f"{shown} is not {' or '.join(dict.fromkeys(kinds_at[path]))}"
            issues = [(p, message if p == path else m) for p, m in issues]
            continue
        if error["type"] in _KINDS:
            kinds_at[path] = [_KINDS[error["type"]]]
        message = _message(error, value, _show(value, secret), allowed, part)
        issue = (path, message)
        if issue not in issues:
            issues.append(issue)
    return issues
