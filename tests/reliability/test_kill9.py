"""kill -9 of each service in turn while the load runs loses nothing and doubles nothing."""

from __future__ import annotations

import pytest

from bench.chaos import ChaosConfig, Session, faults_phase, settle_and_verify
from bench.chaos_faults import Injector

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


async def test_kill_9_of_each_service_under_load_loses_and_duplicates_nothing(
    chaos: Session,
) -> None:
    config = ChaosConfig(
        load_seconds=20, kill_rounds=1, gap_s=2, pg_loss=False, broker_restart=False
    )
    injector = Injector(chaos.stack, chaos.tail, chaos.offsets)

    await faults_phase(chaos, config, injector)
    verdict, _ = await settle_and_verify(chaos)

    assert [f.target for f in injector.faults] == ["catalog", "matching", "ledger"]
    assert all(f.recovery_s is not None for f in injector.faults), injector.faults
    assert verdict.lost == 0, verdict.as_dict()
    assert verdict.duplicated == 0, verdict.as_dict()
    assert verdict.ok, verdict.as_dict()
