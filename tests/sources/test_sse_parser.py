"""The SSE parser follows the WHATWG spec, however the bytes are split into chunks."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from collectorkit.sources import ServerSentEvent, SSEParser


def parse(*chunks: bytes) -> list[ServerSentEvent]:
    parser = SSEParser()
    return [event for chunk in chunks for event in parser.feed(chunk)]


def test_fields_comments_and_multiline_data() -> None:
    events = parse(b": heartbeat\nevent: alert\nid: 7\ndata: line one\ndata:line two\n\n")
    assert events == [
        ServerSentEvent(data="line one\nline two", event="alert", id="7", has_id=True)
    ]


def test_id_persists_but_is_marked_inherited() -> None:
    first, second = parse(b"id: 1\ndata: a\n\ndata: b\n\n")
    assert (first.id, first.has_id) == ("1", True)
    assert (second.id, second.has_id) == ("1", False)


def test_empty_id_resets_and_nul_id_is_ignored() -> None:
    events = parse(b"id: 5\ndata: a\n\nid\ndata: b\n\nid: x\x00y\ndata: c\n\n")
    assert [e.id for e in events] == ["5", "", ""]


def test_event_without_data_is_not_dispatched_and_type_resets() -> None:
    events = parse(b"event: ping\n\ndata: x\n\n")
    assert events == [ServerSentEvent(data="x")]


def test_retry_digits_only() -> None:
    parser = SSEParser()
    parser.feed(b"retry: 2500\n\nretry: soon\n\n")
    assert parser.reconnection_ms == 2500


def test_cr_crlf_bom_and_no_space_after_colon() -> None:
    events = parse(b"\xef\xbb\xbfdata:a\r\rdata: b\r\n\r\n")
    assert [e.data for e in events] == ["a", "b"]


def test_unterminated_event_at_the_end_is_discarded() -> None:
    assert parse(b"data: complete\n\ndata: half") == [ServerSentEvent(data="complete")]


def test_unknown_fields_are_ignored() -> None:
    assert parse(b"foo: bar\ndata: x\n\n") == [ServerSentEvent(data="x")]


STREAM = (
    'retry: 10\n: c\r\nid: 1\nevent: a\ndata: é{"k": 1}\n\n'
    "data: two\rdata: lines\r\r"
    "id: 3\r\ndata: three\r\n\r\n"
).encode()


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=8))
def test_chunking_does_not_change_the_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert parse(*chunks) == parse(STREAM)
    assert [e.data for e in parse(STREAM)] == ['é{"k": 1}', "two\nlines", "three"]


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
    max_size=20,
)
_EVENT = st.fixed_dictionaries(
    {
        "data": st.lists(_TEXT, min_size=1, max_size=3),
        "event": st.one_of(st.none(), _TEXT.filter(lambda t: t != "")),
        "id": st.one_of(st.none(), _TEXT),
    }
)


def _serialize(event: dict[str, Any]) -> str:
    lines = []
    if event["event"] is not None:
        lines.append(f"event: {event['event']}")
    if event["id"] is not None:
        lines.append(f"id: {event['id']}")
    lines += [f"data: {line}" for line in event["data"]]
    return "\n".join(lines) + "\n\n"


@given(st.lists(_EVENT, max_size=6), st.data())
def test_any_serialized_events_parse_back(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    raw = ("".join(_serialize(e) for e in events)).encode()
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(raw)), max_size=5))))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    parsed = parse(*chunks)
    last_id = ""
    expected = []
    for e in events:
        last_id = e["id"] if e["id"] is not None else last_id
        expected.append(
            ServerSentEvent(
                data="\n".join(e["data"]),
                event=e["event"] or "message",
                id=last_id,
                has_id=e["id"] is not None,
            )
        )
    assert parsed == expected
