"""Seed 000's "how to enable" lines assign to a blueprint and a request; both are immutable,
and the error says exactly what to write instead."""

from __future__ import annotations

import dataclasses

import pytest

from collectorkit import CollectorBlueprint, CollectorRequest


def _blueprint() -> CollectorBlueprint:
    return CollectorBlueprint(
        name="seed", base_url="http://127.0.0.1:1", request=CollectorRequest(endpoint="/e")
    )


def test_assigning_default_strategy_says_to_use_replace() -> None:
    blueprint = _blueprint()
    with pytest.raises(dataclasses.FrozenInstanceError) as info:
        blueprint.default_strategy = "sequential"  # type: ignore[misc]
    message = str(info.value)
    assert "blueprint = blueprint.replace(default_strategy=...)" in message
    assert "strategy=" in message  # or pass it per call
    assert blueprint.default_strategy == _blueprint().default_strategy
    changed = blueprint.replace(default_strategy="concurrent")
    assert changed.default_strategy == "concurrent"


def test_assigning_shards_says_to_replace_the_request_and_the_blueprint() -> None:
    blueprint = _blueprint()
    with pytest.raises(dataclasses.FrozenInstanceError) as info:
        blueprint.request.shards = [{"params": {"region": "eu"}, "state_key": "eu"}]  # type: ignore[misc]
    message = str(info.value)
    assert "request = request.replace(shards=...)" in message
    assert "blueprint.replace(request=request)" in message
    assert blueprint.request.shards == ()
