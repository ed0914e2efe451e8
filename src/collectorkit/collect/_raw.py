"""Pass-through decoding: records stay the JSON bytes the API sent.

A page body is scanned once by msgspec into the values the walk reads — the record list as
raw slices, the pagination paths decoded — and each record once more for the few fields the
collector needs (key fields, the incremental timestamp and id, the fields a sink reads). Nothing
else of a record is ever turned into Python objects, and the sinks write its bytes as they came
(:class:`~collectorkit._records.RawRecord`, through the sinks' ``json_default``).

Every path must be a plain dotted path (``data.alerts``; not a JMESPath expression). A record
that lacks a key field, or whose bytes hold a line break (a pretty-printed body: a JSON Lines
file must not get it), is decoded whole, as without pass-through; so is a page that does not
have the configured shape, which the walk then reads the ordinary way (and its errors and
self-checks name what is wrong as usual).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

import msgspec

from collectorkit._records import RawRecord, Record
from collectorkit.collect._pagination import _PATH_FIELDS
from collectorkit.collect._paths import dotted_keys
from collectorkit.collect._request import CollectorRequest

__all__ = ["RawPages", "raw_refusals"]

_Tree = dict[str, "_Tree | None"]  # a path tree: a leaf is None


def raw_refusals(request: CollectorRequest, record_fields: Sequence[str]) -> list[str]:
    """Why ``request`` cannot be read with pass-through (empty: it can)."""
    reasons: list[str] = []
    if request.paginator is not None:
        reasons.append("a custom paginator reads the response")
    if request.data_path is not None and dotted_keys(request.data_path) is None:
        reasons.append(f"data_path {request.data_path!r} is an expression, not a dotted path")
    cfg = request.pagination
    for name in _PATH_FIELDS:
        value = getattr(cfg, name)
        if value is not None and dotted_keys(value) is None:
            reasons.append(f"pagination.{name} {value!r} is an expression, not a dotted path")
    if not record_fields:
        reasons.append("no key_fields: each record's key is a digest of all of it")
    reasons += [
        f"record field {path!r} is an expression, not a dotted path"
        for path in _record_paths(request, record_fields)
        if dotted_keys(path) is None
    ]
    return reasons


def _record_paths(request: CollectorRequest, record_fields: Sequence[str]) -> list[str]:
    paths = list(record_fields)
    inc = request.incremental
    if inc is not None:
        paths.append(inc.timestamp_field)
        if inc.id_field is not None:
            paths.append(inc.id_field)
    return list(dict.fromkeys(paths))


class RawPages:
    """Reads page bodies for pass-through (see the module's text); build it once per walk.

    ``key_fields`` must be in every record for it to stay raw; ``record_fields`` are decoded
    too (the request's own timestamp and id fields are added here). A page is scanned twice,
    each time by one call into msgspec: once for the record list as raw slices (and the
    pagination paths), once for every record's fields — no Python call per record.
    """

    __slots__ = ("_body", "_data", "_fields", "_flat_keys", "_key_fields")

    def __init__(
        self,
        request: CollectorRequest,
        key_fields: Sequence[str],
        record_fields: Iterable[str] = (),
    ) -> None:
        refusals = raw_refusals(request, key_fields)
        if refusals:
            raise ValueError("pass-through is not possible: " + "; ".join(refusals))
        self._key_fields = tuple(_split(f) for f in key_fields)
        flat = all(len(k) == 1 for k in self._key_fields)
        self._flat_keys = tuple(k[0] for k in self._key_fields) if flat else None
        paths = _record_paths(request, [*key_fields, *record_fields])
        item = _typed("Fields", _tree(_split(p) for p in paths))
        self._data = None if request.data_path is None else _split(request.data_path)
        cfg = request.pagination
        body_paths = [_split(v) for name in _PATH_FIELDS if (v := getattr(cfg, name)) is not None]
        body: Any
        fields: Any
        if self._data is None:
            body, fields = list[msgspec.Raw], list[item]  # type: ignore[valid-type]
        else:
            tree = _tree(body_paths)
            _graft(tree, self._data)
            body = _struct("Body", tree, self._data, msgspec.Raw)
            only_data: _Tree = {}
            _graft(only_data, self._data)
            fields = _struct("Fields", only_data, self._data, item)
        self._body = msgspec.json.Decoder(body)
        self._fields = msgspec.json.Decoder(fields)

    def decode(self, content: bytes) -> tuple[Any, list[Record]] | None:
        """``(body, records)``: the body with only the paths the walk reads, and the records
        (raw where they can be); ``None`` when the page does not have the configured shape
        (a record that is not an object included: the walk's own checks name it)."""
        try:
            decoded = self._body.decode(content)
            raws = self._leaf(decoded)
            if raws is None or type(raws) is dict:
                fields = None  # no records, or one object: decoded as without pass-through
            else:
                fields = self._leaf(self._fields.decode(content))
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        breaks = b"\n" in content or b"\r" in content
        records: list[Any]
        if raws is None:
            records = []
        elif type(raws) is dict:
            records = [raws]
        else:
            records = self._records(raws, fields, breaks)
        if self._data is None:
            return records, records
        body = _plain(decoded)
        if raws is None:
            return body, records
        holder = body  # the body holds the records where the data path points
        for key in self._data[:-1]:
            holder = holder.setdefault(key, {})
        holder[self._data[-1]] = records
        return body, records

    def _leaf(self, decoded: Any) -> Any:
        """The value at the data path (``None`` when it is absent or null)."""
        node = decoded
        for key in self._data or ():
            node = getattr(node, _attr(key), None)
            if node is None or node is msgspec.UNSET:
                return None
        return node

    def _records(self, raws: list[msgspec.Raw], fields: Any, breaks: bool) -> list[Record]:
        """The records of one page; ``breaks``: the page's bytes hold a line break somewhere."""
        out: list[Any] = list(map(RawRecord, map(bytes, raws), fields))
        flat = self._flat_keys
        if flat is not None and not breaks:
            present = all(None not in [f.get(k) for f in fields] for k in flat)
            if present:
                return out  # the common case, told without a Python call per record
        keys = self._key_fields
        return [r if _stays_raw(r, keys, breaks) else r.full() for r in out]


def _stays_raw(record: RawRecord, keys: tuple[tuple[str, ...], ...], breaks: bool) -> bool:
    if breaks and (b"\n" in record.raw or b"\r" in record.raw):
        return False
    return all(_has(record.fields, k) for k in keys)


def _split(dotted: str) -> tuple[str, ...]:
    keys = dotted_keys(dotted)
    if keys is None:
        raise ValueError(f"{dotted!r} is not a dotted path")
    return keys


def _tree(paths: Iterable[tuple[str, ...]]) -> _Tree:
    """The paths as a tree; a path that is a prefix of another is a leaf (decoded whole)."""
    root: _Tree = {}
    for path in sorted(set(paths), key=len):
        node: _Tree | None = root
        for i, key in enumerate(path):
            assert node is not None
            if key in node and node[key] is None:
                break  # a shorter path decodes this whole value already
            if i == len(path) - 1:
                node[key] = None
            else:
                node = node.setdefault(key, {})
    return root


def _graft(tree: _Tree, path: tuple[str, ...]) -> None:
    """Add the data path to ``tree`` as a branch of its own (it must not be decoded whole)."""
    node = tree
    for key in path[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        node = child
    node[path[-1]] = None


def _struct(name: str, tree: _Tree, leaf: tuple[str, ...], item: Any) -> Any:
    """A msgspec Struct type holding the paths of ``tree`` (every field optional, unknown
    fields skipped; ``Any`` at the leaves); at the data path ``leaf``, a list of ``item`` (or
    one object)."""
    fields: list[tuple[str, Any, Any]] = []
    for key, child in tree.items():
        kind: Any
        if leaf == (key,):
            kind = list[item] | dict[str, Any] | None
        elif child is None:
            kind = Any
        else:
            below = leaf[1:] if leaf[:1] == (key,) else ()
            kind = _struct(f"{name}_{len(fields)}", child, below, item) | None
        fields.append((_attr(key), kind, msgspec.UNSET))
    return msgspec.defstruct(name, fields, rename=_names(tree), gc=False)


def _typed(name: str, tree: _Tree) -> Any:
    """A TypedDict of the paths of ``tree`` (none required; msgspec skips the other keys)."""
    fields = {
        key: Any if child is None else _typed(f"{name}_{key}", child) | None
        for key, child in tree.items()
    }
    return TypedDict(name, fields, total=False)  # type: ignore[operator]


def _attr(key: str) -> str:
    return "f_" + key  # a JSON key may be a Python keyword or clash with Struct's own names


def _names(tree: _Tree) -> dict[str, str]:
    return {_attr(k): k for k in tree}


def _plain(value: Any) -> Any:
    """A decoded Struct as nested dicts without the absent fields (``UNSET``)."""
    if not isinstance(value, msgspec.Struct):
        return value
    out: dict[str, Any] = {}
    for attr in value.__struct_fields__:
        item = getattr(value, attr)
        if item is not msgspec.UNSET:
            out[attr[2:]] = _plain(item)
    return out


def _has(fields: dict[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = fields
    for key in path:
        if not isinstance(node, dict) or node.get(key) is None:
            return False
        node = node[key]
    return True
