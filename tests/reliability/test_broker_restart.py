"""The broker (tansu on s3 storage) killed and restarted under load: producers and
consumers reconnect, committed offsets and the log survive, nothing is lost or doubled.

It runs on a stack of its own (`s3_chaos`): tansu on s3 is slow, so the city is small and
the load light."""

from __future__ import annotations

import pytest

from bench.chaos import ChaosConfig, Session, faults_phase, settle_and_verify
from bench.chaos_faults import Injector

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


async def test_broker_restart_under_load_loses_and_duplicates_nothing(
    s3_chaos: Session,
) -> None:
    config = ChaosConfig(load_seconds=15, kill_rounds=0, gap_s=2, pg_loss=False)
    injector = Injector(s3_chaos.stack, s3_chaos.tail, s3_chaos.offsets)

    await faults_phase(s3_chaos, config, injector)
    verdict, _ = await settle_and_verify(s3_chaos)

    (fault,) = injector.faults
    assert fault.kind == "broker-restart"
    assert fault.recovery_s is not None, fault.as_dict()
    back_at = injector.started + fault.at_s + fault.duration_s
    sent = s3_chaos.load.record.sent
    assert any(s.sent_at > back_at for s in sent), "no load after the broker came back"
    assert verdict.ok, verdict.as_dict()
