"""The vendors' time formats, both ways."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectorkit.simulator._timefmt import http_date, iso, parse_time_ms


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1700000000", 1_700_000_000_000),
        ("1700000000.5", 1_700_000_000_500),
        ("1700000000123", 1_700_000_000_123),
        ("2024-05-01T00:00:00Z", 1_714_521_600_000),
        ("'2024-05-01T00:00:00Z'", 1_714_521_600_000),
        ("2024-05-01T00:00:00.1234567Z", 1_714_521_600_123),
        ("2024-05-01T02:00:00+02:00", 1_714_521_600_000),
        ("2024-04-30T21:00:00-03:00", 1_714_521_600_000),
        ("2024-05-01", 1_714_521_600_000),
        ("2024-05-01T05:05:14.946000", 1_714_539_914_946),
    ],
)
def test_parse(text: str, ms: int) -> None:
    assert parse_time_ms(text) == ms


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01T00:00:00Z", "2024-05-01T00:00:00+5"])
def test_parse_rejects(text: str) -> None:
    assert parse_time_ms(text) is None


def test_formats() -> None:
    ms = 1_714_521_603_512
    assert iso(ms) == "2024-05-01T00:00:03.512Z"
    assert iso(ms, digits=7) == "2024-05-01T00:00:03.5120000Z"
    assert iso(ms, digits=0, offset_minutes=-180) == "2024-04-30T21:00:03-03:00"
    assert iso(ms, digits=6, zone=False) == "2024-05-01T00:00:03.512000"
    assert http_date(1_714_521_603.9) == "Wed, 01 May 2024 00:00:03 GMT"


@given(st.integers(0, 4_102_444_800_000), st.sampled_from([3, 6, 7, 9]), st.integers(-720, 840))
def test_round_trip(ms: int, digits: int, offset: int) -> None:
    assert parse_time_ms(iso(ms, digits=digits, offset_minutes=offset)) == ms
