"""A connector: a vendor API described as data (a definition file), and how a source uses it.

A definition holds what a source holds (``source``: endpoint, pagination, incremental window,
key fields, retry, rate limit, hooks …), settings an option's value picks (``variants``), the
vendor's scheme for each auth kind it supports (``auth``: e.g. Okta's ``SSWS`` prefix, the
token URL and client-authentication method), the options a user may give (``options``) and
what a reader needs to know (vendor, scopes, rate limits, semantics, assumptions where the
vendor's documentation says nothing).

:meth:`Connector.expand` turns a source that names the connector into a plain source: the
definition's settings go under the user's (mappings merge key by key, the user's value wins),
``{options.NAME}`` and ``{base_url}`` in the definition are filled in (a value that is exactly
one placeholder keeps the option's type). Expanding an expanded source changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from collectorkit._errors import ConfigError

__all__ = ["Connector", "OptionSpec", "merge_under"]

_PLACEHOLDER = re.compile(r"\{(options\.[A-Za-z_][A-Za-z0-9_]*|base_url)\}")
_META_TEXT = ("vendor", "title", "description", "rate_limits", "docs")
_META_LISTS = ("auth_kinds", "scopes", "semantics", "assumptions")
_KEYS = {"name", "options", "auth", "source", "variants", "example", *_META_TEXT, *_META_LISTS}


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionSpec:
    """One option of a connector: ``required`` or with a ``default``, optionally ``choices``."""

    name: str
    description: str = ""
    default: Any = None
    required: bool = False
    choices: tuple[Any, ...] = ()

    def check(self, value: Any, path: str) -> Any:
        """``value`` if it suits this option, else a :class:`ConfigError` at ``path``."""
        if self.choices and value not in self.choices:
            shown = ", ".join(map(str, self.choices))
            raise ConfigError(f"{value!r} is not one of {shown}", path=path)
        wanted = type(self.default)
        if self.default is not None and not self.choices and not isinstance(value, wanted):
            if wanted is int and isinstance(value, str) and value.isdigit():
                return int(value)
            if wanted is str and isinstance(value, int | float) and not isinstance(value, bool):
                return str(value)
            raise ConfigError(f"{value!r} is not a {wanted.__name__}", path=path)
        return value


def merge_under(base: Any, own: Any) -> Any:
    """``own`` over ``base``: mappings merge key by key, anything else is replaced by ``own``."""
    if isinstance(base, Mapping) and isinstance(own, Mapping):
        merged = dict(base)
        for key, value in own.items():
            merged[key] = merge_under(base.get(key), value) if key in base else value
        return merged
    return own


def _substitute(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, values) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_substitute(v, values) for v in value]
    return value


def _texts(data: Mapping[str, Any], key: str, origin: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("must be a list of strings", path=f"{origin}: {key}")
    return tuple(value)


def _mapping(data: Mapping[str, Any], key: str, origin: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError("must be a mapping", path=f"{origin}: {key}")
    return dict(value)


def _variants(raw: Mapping[str, Any], origin: str) -> dict[str, dict[str, dict[str, Any]]]:
    """``variants: {option: {value: {settings}}}``."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for option, by_value in raw.items():
        if not isinstance(by_value, Mapping) or not all(
            isinstance(v, Mapping) for v in by_value.values()
        ):
            raise ConfigError(
                "a variant maps option values to settings", path=f"{origin}: variants.{option}"
            )
        out[str(option)] = {str(k): dict(v) for k, v in by_value.items()}
    return out


def _options(raw: Mapping[str, Any], origin: str) -> dict[str, OptionSpec]:
    specs: dict[str, OptionSpec] = {}
    for name, spec in raw.items():
        if not isinstance(spec, Mapping) or not set(spec) <= {
            "description",
            "default",
            "required",
            "choices",
        }:
            raise ConfigError(
                "an option is {description, default, required, choices}",
                path=f"{origin}: options.{name}",
            )
        specs[str(name)] = OptionSpec(
            name=str(name),
            description=str(spec.get("description", "")),
            default=spec.get("default"),
            required=bool(spec.get("required", False)),
            choices=tuple(spec.get("choices") or ()),
        )
    return specs


@dataclass(frozen=True, slots=True, kw_only=True)
class Connector:
    """A vendor API as data; see the module docstring. ``origin`` is where it was read from."""

    name: str
    vendor: str
    title: str = ""
    description: str = ""
    docs: str = ""
    rate_limits: str = ""
    auth_kinds: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    semantics: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    options: Mapping[str, OptionSpec] = field(default_factory=dict)
    auth: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict)
    variants: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    example: Mapping[str, Any] = field(default_factory=dict)
    origin: str = "<connector>"

    @classmethod
    def from_mapping(cls, data: Any, *, origin: str = "<connector>") -> Connector:
        """A connector from a definition file's data; a mistake names ``origin`` and the key."""
        if not isinstance(data, Mapping):
            raise ConfigError("a connector definition must be a mapping", path=origin)
        unknown = sorted(set(map(str, data)) - _KEYS)
        if unknown:
            raise ConfigError(
                f"unknown keys {', '.join(unknown)} (allowed: {', '.join(sorted(_KEYS))})",
                path=origin,
            )
        name = data.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ConfigError(f"name must be lower_snake_case, got {name!r}", path=origin)
        texts = {k: str(data.get(k) or "") for k in _META_TEXT}
        if not texts["vendor"]:
            raise ConfigError("vendor is missing", path=origin)
        auth = _mapping(data, "auth", origin)
        if not all(isinstance(v, Mapping) for v in auth.values()):
            raise ConfigError("auth maps an auth kind to its settings", path=f"{origin}: auth")
        lists = {k: _texts(data, k, origin) for k in _META_LISTS}
        return cls(
            name=name,
            vendor=texts["vendor"],
            title=texts["title"],
            description=texts["description"],
            docs=texts["docs"],
            rate_limits=texts["rate_limits"],
            auth_kinds=lists["auth_kinds"],
            scopes=lists["scopes"],
            semantics=lists["semantics"],
            assumptions=lists["assumptions"],
            options=_options(_mapping(data, "options", origin), origin),
            auth={str(k): dict(v) for k, v in auth.items()},
            source=_mapping(data, "source", origin),
            variants=_variants(_mapping(data, "variants", origin), origin),
            example=_mapping(data, "example", origin),
            origin=origin,
        )

    def option_values(self, given: Any) -> dict[str, Any]:
        """Every option's value: ``given`` checked (unknown or missing ones are errors at
        ``options.NAME``), defaults for the rest."""
        if given is None:
            given = {}
        if not isinstance(given, Mapping):
            raise ConfigError(f"must be a mapping, got {given!r}", path="options")
        for name in given:
            if name not in self.options:
                known = ", ".join(sorted(self.options)) or "none"
                raise ConfigError(
                    f"unknown option of connector {self.name!r} (its options: {known})",
                    path=f"options.{name}",
                )
        values: dict[str, Any] = {}
        for name, spec in self.options.items():
            if name in given and given[name] is not None:
                values[name] = spec.check(given[name], f"options.{name}")
            elif spec.required:
                raise ConfigError(
                    f"{name!r} is required by connector {self.name!r} ({spec.description})",
                    path="options",
                )
            else:
                values[name] = spec.default
        return values

    def _settings(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """``source`` with the variants the option values pick: a variant's ``request`` keys
        replace the request's (a whole ``pagination``), its other keys replace the source's."""
        settings = dict(self.source)
        for option, by_value in self.variants.items():
            variant = by_value.get(str(options.get(option)))
            if not variant:
                continue
            for key, value in variant.items():
                if key == "request" and isinstance(value, Mapping):
                    settings["request"] = {**settings.get("request", {}), **value}
                else:
                    settings[key] = value
        return settings

    def expand(self, source: Mapping[str, Any]) -> dict[str, Any]:
        """``source`` (a source's settings naming this connector) with the definition's
        settings under it; errors name the source-relative path (``options.org``)."""
        options = self.option_values(source.get("options"))
        values = {f"options.{k}": v for k, v in options.items()}
        values["base_url"] = str(source.get("base_url") or "").rstrip("/")
        defaults = dict(_substitute(self._settings(options), values))
        own_auth = source.get("auth")
        kind = own_auth.get("type") if isinstance(own_auth, Mapping) else None
        if isinstance(kind, str) and kind in self.auth:
            defaults["auth"] = {"type": kind, **_substitute(self.auth[kind], values)}
        merged: dict[str, Any] = merge_under(defaults, dict(source))
        merged["options"] = options
        return merged
