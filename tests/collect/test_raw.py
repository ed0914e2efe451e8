"""Pass-through decoding (``collect._raw``): records stay the bytes the API sent.

The page decoder must hand the walk exactly what the ordinary decoding would — the same records
(as values), the same pagination values — while keeping each record's bytes verbatim, and must
step aside (``None``, or a record decoded whole) wherever it cannot do that safely.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectorkit import (
    CollectorRequest,
    IncrementalConfig,
    PaginationConfig,
    RawRecord,
    record_key,
)
from collectorkit._records import record_digest
from collectorkit.collect import raw_refusals
from collectorkit.collect._raw import RawPages
from collectorkit.sinks._base import dump_json


def _request(data_path: str | None = "data.items", **pagination: Any) -> CollectorRequest:
    paging = pagination or {"mode": "cursor", "next_cursor_path": "meta.next"}
    return CollectorRequest(
        endpoint="/e", data_path=data_path, pagination=PaginationConfig(**paging)
    )


# Spelled by hand: escapes, non-ASCII, exponents, key order and spacing that re-serialising
# would change — the raw bytes must survive all of it.
_RECORDS = [
    b'{"id": "a1", "msg": "caf\\u00e9 \\"quoted\\"", "n": 1.50E+3, "z": 1, "a": [1, {"b": null}]}',
    b'{"id":"a2","msg":"\xe2\x9c\x93 ok","nested":{"deep":{"x":[]}},"big":123456789012345678901}',
    b'{"host":{"name":"ws-1"},"id":3,"t":"2024-05-01T00:00:00Z"}',
]
_PAGE = b'{"meta": {"next": "c2", "other": [1, 2]}, "data": {"items": [%s], "count": 3}}' % (
    b", ".join(_RECORDS)
)


def test_records_keep_their_bytes_and_read_as_their_key_fields() -> None:
    body, records = RawPages(_request(), ["id"]).decode(_PAGE)  # type: ignore[misc]
    assert [type(r) for r in records] == [RawRecord] * 3
    assert [r.raw for r in records] == _RECORDS
    assert [dict(r) for r in records] == [{"id": "a1"}, {"id": "a2"}, {"id": 3}]
    assert body["meta"] == {"next": "c2"}  # the pagination path, nothing the walk does not read
    assert body["data"]["items"] is records
    # the whole record decodes to what the ordinary path gives; its digest and key are the same
    for raw, record in zip(_RECORDS, records, strict=True):
        assert record.full() == orjson.loads(raw)
        assert record_digest(record) == record_digest(orjson.loads(raw))
    assert [record_key("s", r, ["id"]) for r in records] == ["s:a1", "s:a2", "s:3"]


def test_sinks_write_the_bytes_verbatim() -> None:
    _, records = RawPages(_request(), ["id"]).decode(_PAGE)  # type: ignore[misc]
    line = dump_json({"key": "k", "data": records[0]})
    assert line == b'{"key":"k","data":' + _RECORDS[0] + b"}"
    with pytest.raises(TypeError):  # never serialised as the partial mapping by mistake
        orjson.dumps(records[0])


def test_nested_key_and_incremental_fields_are_decoded() -> None:
    inc = IncrementalConfig(timestamp_field="t", id_field="id")
    request = CollectorRequest(
        endpoint="/e",
        data_path="data.items",
        pagination=PaginationConfig(mode="cursor", next_cursor_path="meta.next"),
        incremental=inc,
    )
    _, records = RawPages(request, ["host.name"], ["msg"]).decode(_PAGE)  # type: ignore[misc]
    # only the third record has host.name: the others are decoded whole (their key is a digest)
    assert [type(r) for r in records] == [dict, dict, RawRecord]
    assert dict(records[2]) == {"host": {"name": "ws-1"}, "id": 3, "t": "2024-05-01T00:00:00Z"}
    assert records[0] == orjson.loads(_RECORDS[0])


def test_a_list_body_and_one_object_at_the_data_path() -> None:
    listed = b"[" + b",".join(_RECORDS[:1] + _RECORDS[2:]) + b"]"
    body, records = RawPages(_request(None), ["id"]).decode(listed)  # type: ignore[misc]
    assert [r.raw for r in records] == [_RECORDS[0], _RECORDS[2]]
    one = b'{"data": {"items": {"id": "solo", "x": 1}}, "meta": {"next": null}}'
    body, records = RawPages(_request(), ["id"]).decode(one)  # type: ignore[misc]
    assert records == [{"id": "solo", "x": 1}]
    assert body["meta"] == {"next": None}


@pytest.mark.parametrize(
    "content",
    [
        b'{"data": {"items": "not a list"}}',  # the walk's own check names what is wrong
        b'{"data": ["a", "b"]}',
        b"not json",
    ],
)
def test_a_page_of_another_shape_is_left_to_the_ordinary_decoding(content: bytes) -> None:
    assert RawPages(_request(), ["id"]).decode(content) is None


def test_absent_records_are_an_empty_page() -> None:
    body, records = RawPages(_request(), ["id"]).decode(b'{"meta": {"next": null}}')  # type: ignore[misc]
    assert records == []
    assert body == {"meta": {"next": None}}


def test_a_record_with_a_line_break_is_decoded_whole() -> None:
    """A JSON Lines file cannot take a pretty-printed record verbatim."""
    pretty = orjson.dumps(orjson.loads(_PAGE), option=orjson.OPT_INDENT_2)
    _, records = RawPages(_request(), ["id"]).decode(pretty)  # type: ignore[misc]
    assert all(type(r) is dict for r in records)
    assert records[0]["id"] == "a1"


def test_what_cannot_pass_through_is_named() -> None:
    assert raw_refusals(_request(), ["id"]) == []
    assert raw_refusals(_request("data[?x].items"), ["id"]) == [
        "data_path 'data[?x].items' is an expression, not a dotted path"
    ]
    assert raw_refusals(_request(mode="cursor", next_cursor_path="[-1].id"), ["id"]) == [
        "pagination.next_cursor_path '[-1].id' is an expression, not a dotted path"
    ]
    assert raw_refusals(_request(), []) == [
        "no key_fields: each record's key is a digest of all of it"
    ]
    with pytest.raises(ValueError, match="pass-through is not possible: data_path"):
        RawPages(_request("data | [0]"), ["id"])


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    st.lists(
        st.dictionaries(st.text(), _JSON, max_size=5).map(lambda d: {**d, "id": str(len(d))}),
        max_size=6,
    ),
    st.booleans(),
)
def test_any_page_reads_as_its_ordinary_decoding(
    records: list[dict[str, Any]], pretty: bool
) -> None:
    """Whatever the records hold, pass-through hands out the same values (decoded whole or read
    from their bytes), the same keys, and bytes that decode to the record."""
    option = orjson.OPT_INDENT_2 if pretty else 0
    page = orjson.dumps({"meta": {"next": None}, "data": {"items": records}}, option=option)
    decoded = RawPages(_request(), ["id"]).decode(page)
    assert decoded is not None
    _, got = decoded
    assert [r.full() if isinstance(r, RawRecord) else r for r in got] == records
    assert [record_key("s", r, ["id"]) for r in got] == [
        record_key("s", r, ["id"]) for r in records
    ]
    for record, original in zip(got, records, strict=True):
        if isinstance(record, RawRecord):
            assert orjson.loads(record.raw) == original
            assert b"\n" not in record.raw
            assert record_digest(record) == record_digest(original)
