"""The built-in processors, one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectorkit import ConfigError, FakeClock, ProcessingError
from collectorkit.pipeline import (
    DedupProcessor,
    EnrichProcessor,
    FieldMapProcessor,
    FilterProcessor,
    JSONValidationProcessor,
    MaskProcessor,
    ProcessingResult,
    TimestampProcessor,
    to_utc_iso,
)

# --- validation ----------------------------------------------------------------------------


async def test_seed_validation_example() -> None:
    validator = JSONValidationProcessor(
        name="validator", required_fields=["sensor_id", "value", "timestamp"]
    )
    ok = await validator.process(b'{"sensor_id": "s1", "value": 2, "timestamp": 1}')
    assert ok.success
    assert ok.processed_data == {"sensor_id": "s1", "value": 2, "timestamp": 1}
    assert ok.processing_time >= 0
    missing = await validator.process('{"sensor_id": "s1"}')
    assert missing == ProcessingResult(
        False, None, "Missing required fields: ['value', 'timestamp']"
    )
    bad = await validator.process(b"{nope")
    assert not bad.success
    assert bad.error is not None
    assert bad.error.startswith("JSON decode error")
    wrong = await validator.process(42)
    assert wrong.error == "Invalid data type: int"
    assert validator.get_processor_name() == "validator"
    assert validator.validate_input({})
    assert not validator.validate_input(None)


def test_validation_annotates_when_asked() -> None:
    out = JSONValidationProcessor(required_fields=["id"], annotate=True)({"id": 1})
    assert out is not None
    assert out["_validated"] is True
    assert datetime.fromisoformat(out["_validated_at"]).tzinfo is not None


def test_json_schema_violation_names_the_place() -> None:
    schema = {
        "type": "object",
        "properties": {"severity": {"enum": ["low", "high"]}, "n": {"type": "integer"}},
    }
    validate = JSONValidationProcessor(schema=schema)
    assert validate({"severity": "low", "n": 3}) == {"severity": "low", "n": 3}
    with pytest.raises(ProcessingError, match=r"schema violation at severity: 'mid'"):
        validate({"severity": "mid"})


def test_invalid_schema_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="schema"):
        JSONValidationProcessor(schema={"type": "no-such-type"})


def test_nested_required_fields() -> None:
    validate = JSONValidationProcessor(required_fields=["meta.id"])
    assert validate({"meta": {"id": 0}}) is not None
    with pytest.raises(ProcessingError, match=r"meta\.id"):
        validate({"meta": {}})


# --- mapping, filtering, enrichment --------------------------------------------------------


def test_field_map_compute_rename_drop_include_without_mutating() -> None:
    record = {"id": 1, "attrs": {"level": "high", "x": 1}, "junk": True, "user": {"n": "a"}}
    before = repr(record)
    mapper = FieldMapProcessor(
        {"user.n": "user_name", "id": "alert.id"},
        drop=["junk", "attrs.x"],
        compute={"severity": "attrs.level"},
    )
    out = mapper(record)
    assert out == {
        "attrs": {"level": "high"},
        "user": {},
        "severity": "high",
        "user_name": "a",
        "alert": {"id": 1},
    }
    assert repr(record) == before
    keep = FieldMapProcessor(include=["id", "attrs.level", "missing"])
    assert keep(record) == {"id": 1, "attrs": {"level": "high"}}


def test_filter_by_jmespath() -> None:
    high = FilterProcessor("severity == 'high' && !contains(tags, 'test')")
    assert high({"severity": "high", "tags": []}) is not None
    assert high({"severity": "high", "tags": ["test"]}) is None
    assert high({"severity": "low", "tags": []}) is None
    drop = FilterProcessor("tags[?@ == 'noise']", keep=False)
    assert drop({"tags": ["noise"]}) is None
    assert drop({"tags": ["x"]}) == {"tags": ["x"]}


def test_filter_never_evaluates_python() -> None:
    with pytest.raises(ConfigError, match="JMESPath"):
        FilterProcessor("__import__('os').system('true')")


def test_filter_type_error_goes_to_dead_letter() -> None:
    with pytest.raises(ProcessingError, match="filter"):
        FilterProcessor("n > `3`")({"n": "text"})


def test_enrich_adds_source_and_collection_time() -> None:
    clock = FakeClock(start=1_700_000_000.5)
    enrich = EnrichProcessor({"env": "prod"}, source="xdr", clock=clock)
    assert enrich({"id": 1, "env": "keep"}) == {
        "env": "keep",
        "_source": "xdr",
        "_collected_at": "2023-11-14T22:13:20Z",
        "id": 1,
    }
    clock.advance(60)
    assert enrich({})["_collected_at"] == "2023-11-14T22:14:20Z"  # type: ignore[index]
    assert EnrichProcessor({"env": "x"}, overwrite=True)({"env": "y"})["env"] == "x"  # type: ignore[index]


# --- timestamps ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
        ("2024-01-02T05:04:05+02:00", "2024-01-02T03:04:05Z"),
        ("2024-01-02 03:04:05.250", "2024-01-02T03:04:05.250000Z"),
        (1_704_164_645, "2024-01-02T03:04:05Z"),
        (1_704_164_645_000, "2024-01-02T03:04:05Z"),
        ("1704164645", "2024-01-02T03:04:05Z"),
        (1_704_164_645_000_000, "2024-01-02T03:04:05Z"),
        ("Tue, 02 Jan 2024 03:04:05 GMT", "2024-01-02T03:04:05Z"),
    ],
)
def test_timestamps_become_utc_iso(value: object, expected: str) -> None:
    assert to_utc_iso(value) == expected


def test_naive_times_use_the_assumed_zone() -> None:
    proc = TimestampProcessor(["at"], assume_timezone=-5)
    assert proc({"at": "2024-01-02T03:04:05"}) == {"at": "2024-01-02T08:04:05Z"}


def test_bad_timestamp_names_field_and_value() -> None:
    proc = TimestampProcessor(["meta.at"])
    with pytest.raises(ProcessingError, match=r"field 'meta.at'.*'yesterday'"):
        proc({"meta": {"at": "yesterday"}})
    assert proc({"other": 1}) == {"other": 1}
    with pytest.raises(ProcessingError, match="missing"):
        TimestampProcessor(["at"], required=True)({})


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])))
def test_round_trip_keeps_the_instant(moment: datetime) -> None:
    text = to_utc_iso(moment.isoformat())
    assert text.endswith("Z")
    assert datetime.fromisoformat(text) == moment


# --- masking -------------------------------------------------------------------------------


def test_masking_by_name_at_any_depth_and_by_path() -> None:
    record = {
        "user": {"password": "hunter2", "name": "a"},
        "headers": [{"Authorization": "Bearer x"}],
        "card": "4111111111111111",
    }
    out = MaskProcessor(["card"], mode="partial")(record)
    assert out == {
        "user": {"password": "***ter2", "name": "a"},
        "headers": [{"Authorization": "****er x"}],
        "card": "************1111",
    }
    redacted = MaskProcessor()(record)
    assert redacted is not None
    assert redacted["user"] == {"password": "***", "name": "a"}
    assert redacted["headers"] == [{"Authorization": "***"}]
    assert record["user"]["password"] == "hunter2"  # type: ignore[index]


def test_hash_mode_is_stable_and_hides_the_value() -> None:
    mask = MaskProcessor(["email"], names=(), mode="hash")
    a, b = mask({"email": "a@x"}), mask({"email": "a@x"})
    assert a == b
    assert a is not None
    assert "a@x" not in str(a)
    assert a["email"].startswith("sha256:")


# --- dedup ---------------------------------------------------------------------------------


def test_dedup_drops_repeats_and_forgets_oldest_beyond_max_size() -> None:
    dedup = DedupProcessor("id", max_size=3)
    assert [dedup({"id": i}) is not None for i in (1, 2, 1, 3, 4)] == [
        True,
        True,
        False,
        True,
        True,
    ]
    assert len(dedup) == 3
    assert dedup({"id": 2}) is not None  # 2 was the least recently seen: forgotten


def test_dedup_forgets_after_ttl() -> None:
    clock = FakeClock()
    dedup = DedupProcessor("id", ttl=60, clock=clock)
    assert dedup({"id": 1}) is not None
    clock.advance(59)
    assert dedup({"id": 1}) is None
    clock.advance(61)
    assert dedup({"id": 1}) is not None


def test_dedup_rollback_forgets_undelivered_keys() -> None:
    dedup = DedupProcessor(("id", "v"))
    dedup({"id": 1, "v": 1})
    dedup.commit()
    dedup({"id": 2, "v": 1})
    dedup.rollback()
    assert dedup({"id": 2, "v": 1}) is not None
    assert dedup({"id": 1, "v": 1}) is None
    assert dedup({"id": 1, "v": 2}) is not None


@given(st.lists(st.integers(0, 50), max_size=300), st.integers(1, 20))
def test_dedup_memory_is_bounded(ids: list[int], max_size: int) -> None:
    dedup = DedupProcessor("id", max_size=max_size)
    for i in ids:
        dedup({"id": i})
        assert len(dedup) <= max_size


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="max_size"):
        DedupProcessor(max_size=0)
    with pytest.raises(ConfigError, match="mode"):
        MaskProcessor(mode="scramble")
    with pytest.raises(ConfigError, match="epoch_unit"):
        TimestampProcessor(epoch_unit="days")
