"""A daemon collecting three connector sources (Okta's feed link, XDR's closed offset windows,
1Password's body cursor) is SIGKILLed at random moments mid-run and restarted, while the
simulator adds records and injects faults; at the end every record is stored exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from collectorkit.simulator import FaultSpec, build_config
from tests.connectors._proof import ID_FIELDS, PROFILES, config_for, source_for, stored
from tests.evidence._support import timed_simulator

pytestmark = pytest.mark.integration

CONNECTORS = ("okta", "cortex_xdr", "onepassword_events")
KILLS = 3  # each restart costs a daemon start (seconds on a loaded machine)


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "collectorkit", "run", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _wait(predicate: object, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        assert proc.poll() is None, log.read_text(errors="replace")
        time.sleep(0.02)
    raise AssertionError(f"{what}:\n" + log.read_text(errors="replace")[-3000:])


def _all_stored(sim: object, db: Path) -> bool:
    return all(
        set(stored(db, c, ID_FIELDS[PROFILES[c]])) == sim.ledger.existing(PROFILES[c])  # type: ignore[attr-defined]
        for c in CONNECTORS
    )


@pytest.mark.timeout(120)
def test_sigkilled_daemon_with_connector_sources_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    profiles = [PROFILES[c] for c in CONNECTORS]
    faults = [FaultSpec(kind="slow", target=p, probability=0.3, delay=0.03) for p in profiles] + [
        FaultSpec(kind="server_error", target=p, probability=0.05) for p in profiles
    ]
    rng = random.Random("connectors-sigkill")
    with timed_simulator(build_config(seed=8, profiles=profiles, records=600, faults=faults)) as (
        sim,
        _,
    ):
        sources = [source_for(c, sim) | {"interval": "0.3s"} for c in CONNECTORS]
        config = config_for(tmp_path, sources) | {
            "status": {"host": "127.0.0.1", "port": 0},
            "shutdown_grace": "2s",
        }
        path = tmp_path / "collectorkit.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        db = tmp_path / "ck.db"
        mid_run = 0
        for i in range(KILLS):
            log = tmp_path / f"run{i}.log"
            proc = _start(path, log)
            try:
                _wait(
                    lambda log=log: b"status server listening" in log.read_bytes(),
                    "never up",
                    proc,
                    log,
                )
                time.sleep(rng.uniform(0.05, 0.4))
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            mid_run += not _all_stored(sim, db)
            for profile in profiles:
                sim.add_records(profile, rng.randint(20, 80))

        log = tmp_path / "final.log"
        proc = _start(path, log)
        try:
            _wait(lambda: _all_stored(sim, db), "the final run never caught up", proc, log)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=20)
        assert code == 0, log.read_text(errors="replace")[-3000:]
        assert mid_run >= KILLS // 2, f"only {mid_run} kills landed mid-collection"
        for connector in CONNECTORS:
            profile = PROFILES[connector]
            ids = stored(db, connector, ID_FIELDS[profile])
            assert not [k for k, n in Counter(ids).items() if n > 1], connector
            report = sim.ledger.compare(profile, ids)
            assert report.ok, (connector, sorted(report.lost)[:3], sorted(report.unexpected)[:3])
            assert set(ids) == sim.ledger.existing(profile)
