"""The broker (tansu on s3 storage) killed and restarted under load: producers and
consumers reconnect, committed offsets and the log survive, nothing is lost or doubled."""

from __future__ import annotations

import pytest

from bench.chaos import ChaosConfig, Session, faults_phase, settle_and_verify
from bench.chaos_faults import Injector

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


async def test_broker_restart_under_load_loses_and_duplicates_nothing(chaos: Session) -> None:
    config = ChaosConfig(load_seconds=15, kill_rounds=0, gap_s=2, pg_loss=False)
    injector = Injector(chaos.stack, chaos.tail, chaos.offsets)

    await faults_phase(chaos, config, injector)
    verdict, _ = await settle_and_verify(chaos)

    (fault,) = injector.faults
    assert fault.kind == "broker-restart"
    assert fault.recovery_s is not None
    assert verdict.ok, verdict.as_dict()
