"""Seed 003's data-source examples work as written: IDataSource, CollectedData, MockDataSource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from collectorkit import SourceError
from collectorkit.compat import CollectedData, IDataSource, MockDataSource
from collectorkit.sources import as_records
from collectorkit.typing import DataSource


async def test_seed_mock_pipeline_example() -> None:
    source = MockDataSource(source_id="test_source", data=b"test_data")
    await source.connect()
    data = await source.collect()
    assert data.source_id == "test_source"
    assert data.raw_data == b"test_data"
    assert list(data) == [{"data": "test_data"}]
    await source.disconnect()
    with pytest.raises(SourceError, match="not connected"):
        await source.collect()


async def test_mock_with_records_and_failure() -> None:
    source = MockDataSource("m", [{"id": 1}, {"id": 2}], stream_batches=2)
    assert isinstance(source, DataSource)
    await source.connect()
    batches = [list(batch) async for batch in source.collect_stream()]
    assert batches == [[{"id": 1}, {"id": 2}]] * 2
    assert source.collect_count == 2
    failing = MockDataSource("f", fail_on_collect=True)
    await failing.connect()
    with pytest.raises(SourceError, match="simulated"):
        await failing.collect()


class SeedStyleSource(IDataSource):
    """Written the way seed 003 tells users to (``get_source_id``, CollectedData from raw bytes)."""

    def __init__(self, source_id: str) -> None:
        self._source_id = source_id

    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        return None

    async def collect(self) -> CollectedData:
        return CollectedData(
            source_id=self._source_id,
            timestamp=datetime.now(),
            data_format="json",
            collection_method="http_get",
            raw_data=b'[{"sensor_id": "s1", "value": 3}, {"sensor_id": "s2", "value": 4}]',
            metadata={"status_code": 200},
        )

    async def collect_stream(self) -> AsyncIterator[CollectedData]:
        yield await self.collect()

    def get_source_id(self) -> str:
        return self._source_id


async def test_a_seed_style_source_is_a_data_source_yielding_records() -> None:
    source = SeedStyleSource("api_001")
    assert isinstance(source, DataSource)
    assert source.source_id == "api_001"
    data = await source.collect()
    assert [r["sensor_id"] for r in data] == ["s1", "s2"]
    assert data.metadata == {"status_code": 200}
    assert len(data.raw_data) > 0
    assert as_records(data) == list(data)


@pytest.mark.parametrize(
    ("value", "records"),
    [
        ({"a": 1}, [{"a": 1}]),
        ([{"a": 1}, 2], [{"a": 1}, {"data": 2}]),
        (CollectedData(source_id="s", raw_data=b'{"x": 1}'), [{"x": 1}]),
        (CollectedData(source_id="s", raw_data=b"not json"), [{"data": "not json"}]),
        (CollectedData(source_id="s", raw_data=b"a,b", data_format="csv"), [{"data": "a,b"}]),
    ],
)
def test_as_records(value: object, records: list[dict[str, object]]) -> None:
    assert as_records(value) == records


def test_as_records_refuses_other_things() -> None:
    with pytest.raises(SourceError, match="returned int, not records"):
        as_records(3)


def test_collected_data_from_records_fills_raw_data() -> None:
    data = CollectedData([{"id": 1}], source_id="s", collection_method="websocket")
    assert data.raw_data == b'[{"id":1}]'
    assert "records=1" in repr(data)
