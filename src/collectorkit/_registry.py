"""Names → builders: one :class:`Registry` per extension point a configuration file names.

Auth kinds (``http``), pagination modes (``collect``), processors (``pipeline``), sinks
(``sinks``) and state-store URL schemes (``state``) are each a registry owned by their layer;
plug-ins add entries with :meth:`Registry.register`, and the configuration loader only looks
names up. A name nobody registered gets one error, the same from the library, the YAML file and
the command line: it names the path, suggests the closest known name and lists them all.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

from collectorkit._errors import ConfigError

__all__ = ["Registry", "unknown_name"]

T = TypeVar("T")


def unknown_name(
    what: str, name: object, known: Iterable[str], *, path: str | None = None
) -> ConfigError:
    """The error for a ``what`` called ``name`` that is not one of ``known``, at ``path``."""
    names = sorted(known)
    close = difflib.get_close_matches(str(name), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown {what} {name!r}{hint}; known: {', '.join(names)}", path=path)


class Registry(Mapping[str, T]):
    """A read-only mapping of names to entries (iterated sorted) that plug-ins extend.

    ``what`` names an entry in errors (``"sink type"``); ``path`` is where a name sits in a
    configuration (``"auth.type"``), used when :meth:`lookup` is not given one; ``fold_case``
    makes names case-insensitive (URL schemes).
    """

    def __init__(
        self,
        what: str,
        entries: Mapping[str, T] | None = None,
        *,
        path: str | None = None,
        fold_case: bool = False,
    ) -> None:
        self.what = what
        self.path = path
        self._fold_case = fold_case
        self._entries: dict[str, T] = {}
        for name, entry in (entries or {}).items():
            self.register(name, entry)

    def _key(self, name: str) -> str:
        return name.lower() if self._fold_case else name

    def register(self, name: str, entry: T) -> T:
        """Make ``entry`` known as ``name`` (replacing an earlier one); returns ``entry``."""
        if not isinstance(name, str) or not name:
            raise ConfigError(f"a {self.what} name must be a non-empty string, got {name!r}")
        self._entries[self._key(name)] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Forget ``name`` (a plug-in's test cleaning up); unknown names are ignored."""
        self._entries.pop(self._key(name), None)

    def lookup(self, name: object, *, path: str | None = None) -> T:
        """The entry called ``name``; an unknown name raises :func:`unknown_name` at ``path``."""
        if name in self:
            return self[str(name)]
        raise self.unknown(name, path=path)

    def unknown(self, name: object, *, path: str | None = None) -> ConfigError:
        """The error for ``name``, at ``path`` (default: the registry's own ``path``)."""
        return unknown_name(self.what, name, self, path=self.path if path is None else path)

    def __getitem__(self, name: str) -> T:
        return self._entries[self._key(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, names={list(self)!r})"
