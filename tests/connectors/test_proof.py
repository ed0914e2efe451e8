"""Proof per connector: a source of a few lines (connector, base_url, credentials) collects its
simulator profile exactly once under faults — 429 storms, 5xx bursts, connection resets,
token expiry, late-arriving records — compared with the simulator's ledger; a second run adds
nothing (beyond what a newest-first API could not show the first walk); records added between
runs arrive once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from collectorkit.simulator import FaultSpec, SimulatorServer, build_config
from collectorkit.testing import no_backoff
from tests.connectors._proof import (
    CONNECTORS,
    ID_FIELDS,
    PROFILES,
    config_for,
    once,
    source_for,
    stored,
)

OAUTH = {"okta", "msgraph_security_alerts", "crowdstrike_alerts"}


def _faults(connector: str) -> list[FaultSpec]:
    profile = PROFILES[connector]
    faults = [
        FaultSpec(kind="rate_limit", target=profile, requests="2-4", retry_after=1),  # a storm
        FaultSpec(kind="server_error", target=profile, requests="6", burst=3, status=503),
        FaultSpec(kind="reset", target=profile, requests="9"),
        FaultSpec(kind="late_arrival", target=profile, requests="5", count=3, late_by=20),
    ]
    if connector == "github_audit":  # GitHub also throttles with a 403 (remaining 0)
        faults.append(FaultSpec(kind="rate_limit", target=profile, requests="12", status=403))
    if connector in OAUTH:  # the token is revoked: a fresh one must be fetched and used
        faults.append(FaultSpec(kind="token_expiry", target=profile, requests="10"))
    return faults


async def _next_second() -> None:
    """Let the wall clock reach the next second: windows are planned to the second, and the
    run after records were added must not end in the same second as the run before it."""
    await asyncio.sleep(1.0 - time.time() % 1.0 + 0.01)


def _assert_exactly_once(sim: SimulatorServer, profile: str, ids: list[str]) -> None:
    """Every record the simulator served is stored, once; nothing that never existed."""
    twice = [i for i, n in Counter(ids).items() if n > 1]
    assert not twice, f"stored more than once: {twice[:5]}"
    report = sim.ledger.compare(profile, ids)
    assert report.ok, f"lost {sorted(report.lost)[:5]}, unexpected {sorted(report.unexpected)[:5]}"


@pytest.mark.parametrize("variant", [*CONNECTORS, "crowdstrike_alerts:queries"])
async def test_connector_collects_its_profile_exactly_once_under_faults(
    variant: str, tmp_path: Path
) -> None:
    """``crowdstrike_alerts:queries`` is the ids → entities two-step (a hook) instead of the
    combined endpoint: the faults hit both steps."""
    connector, _, api = variant.partition(":")
    profile, id_field = PROFILES[connector], ID_FIELDS[PROFILES[connector]]
    sim_config = build_config(seed=14, profiles=[profile], records=500, faults=_faults(connector))
    db = tmp_path / "ck.db"
    with no_backoff():
        async with SimulatorServer(sim_config) as sim:
            source = source_for(connector, sim)
            if api:
                source["options"] = {**source.get("options", {}), "api": api}
            assert len(source) <= 5  # name, connector, base_url, auth (+ options)
            config = config_for(tmp_path, [source])

            first = (await once(config))[connector]
            assert first.ok, first.error
            injected = sim.stats.snapshot()["faults"]
            assert {"rate_limit", "server_error", "reset", "late_arrival"} <= set(injected)
            first_ids = stored(db, connector, id_field)
            _assert_exactly_once(sim, profile, first_ids)
            if api == "queries":  # the alerts came from the entities step, by the ids' pages
                by_endpoint = sim.ledger.served_by_endpoint(profile)
                assert set(by_endpoint["entities"]) == set(first_ids)
                assert "combined" not in by_endpoint

            # a newest-first API (Slack, OTX) could not show what landed during its first walk:
            # the next run brings exactly those, and a run after it nothing at all
            served_first = set(sim.ledger.served_ids(profile))
            again = (await once(config))[connector]
            assert again.ok, again.error
            after_second = stored(db, connector, id_field)
            assert set(after_second) - set(first_ids) <= set(sim.ledger.existing(profile)) - (
                served_first
            )
            before = stored(db, connector, id_field)
            idle = (await once(config))[connector]
            assert idle.ok, idle.error
            assert sorted(stored(db, connector, id_field)) == sorted(before)

            added = sim.add_records(profile, 6) + sim.add_records(profile, 4, late_by=15)
            await _next_second()
            third = (await once(config))[connector]
            assert third.ok, third.error
            ids = stored(db, connector, id_field)
            _assert_exactly_once(sim, profile, ids)
            # records that landed late during the first walk of a newest-first API (Slack,
            # OTX) are in the next window's overlap: by now every record that exists is stored
            assert set(ids) == set(sim.ledger.existing(profile)), "records never collected"
            assert set(added) <= set(ids)


@pytest.mark.parametrize(
    "connector", ["msgraph_security_alerts", "crowdstrike_alerts", "otx_pulses"]
)
async def test_an_updated_record_comes_again_once_per_version(
    connector: str, tmp_path: Path
) -> None:
    """Graph lastUpdateDateTime, CrowdStrike updated_timestamp, OTX modified: an update is a new
    version of the record, stored once; the next run stores nothing more."""
    profile, id_field = PROFILES[connector], ID_FIELDS[PROFILES[connector]]
    db = tmp_path / "ck.db"
    with no_backoff():
        async with SimulatorServer(build_config(seed=4, profiles=[profile], records=120)) as sim:
            config = config_for(tmp_path, [source_for(connector, sim)])
            assert (await once(config))[connector].ok
            first = stored(db, connector, id_field)
            changed = sim.update_records(profile, sorted(first)[:5])
            assert len(changed) == 5
            await _next_second()
            assert (await once(config))[connector].ok
            counts = Counter(stored(db, connector, id_field))
            assert {i: counts[i] for i in changed} == dict.fromkeys(changed, 2)
            assert sum(counts.values()) == len(first) + 5
            assert (await once(config))[connector].ok
            assert sum(Counter(stored(db, connector, id_field)).values()) == len(first) + 5
