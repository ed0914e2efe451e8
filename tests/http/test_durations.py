from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectorkit import ConfigError, TimeoutSettings
from collectorkit.http import parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (2.5, 2.5),
        ("30", 30.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("5min", 300.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("7d", 604800.0),
        (" 2 h ", 7200.0),
        (timedelta(minutes=2), 120.0),
    ],
)
def test_friendly_durations_become_seconds(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", ["soon", "5 parsecs", "-3s", -1, float("nan"), True, None, "1h-5m"]
)
def test_bad_durations_name_the_field_and_value(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(value, field="retry.initial_delay")  # type: ignore[arg-type]
    assert info.value.path == "retry.initial_delay"
    assert repr(value) in str(info.value) or str(value) in str(info.value)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["s", "m", "h", "d"]))
def test_integer_with_unit_scales_by_the_unit(number: int, unit: str) -> None:
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    assert parse_duration(f"{number}{unit}") == number * scale


def test_timeout_settings_accept_every_form_and_are_frozen() -> None:
    settings = TimeoutSettings(connect="5s", read=timedelta(seconds=20), execution="15m")
    assert (settings.connect, settings.read, settings.execution) == (5.0, 20.0, 900.0)
    with pytest.raises(AttributeError):
        settings.read = 1.0  # type: ignore[misc]
    assert TimeoutSettings.coerce(12).read == 12.0
    assert TimeoutSettings.coerce(None) == TimeoutSettings()


def test_timeout_settings_reject_zero_read() -> None:
    with pytest.raises(ConfigError, match=r"TimeoutSettings\.read: must be > 0, got 0\.0"):
        TimeoutSettings(read=0)


def test_capped_settings_never_exceed_the_remaining_budget() -> None:
    settings = TimeoutSettings(connect=10, read=30)
    capped = settings.capped(4.0)
    assert (capped.connect, capped.read, capped.total) == (4.0, 4.0, 4.0)
    assert settings.capped(None) is settings
    assert settings.capped(1000) is settings
    # the whole request (body read included) ends with the budget
    assert settings.capped(100).total == 100
    assert TimeoutSettings(total=None).capped(100).total == 100
