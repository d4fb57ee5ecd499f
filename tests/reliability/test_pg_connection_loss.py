"""PostgreSQL connections cut for a few seconds under load: consumers retry, nothing is
skipped, parked by mistake or doubled."""

from __future__ import annotations

import pytest

from bench.chaos import ChaosConfig, Session, faults_phase, settle_and_verify
from bench.chaos_faults import Injector

pytestmark = [pytest.mark.e2e, pytest.mark.reliability, pytest.mark.pg]


async def test_postgres_connection_loss_under_load_loses_and_duplicates_nothing(
    chaos: Session,
) -> None:
    if not chaos.stack.database_urls:
        pytest.skip("PostgreSQL is not running: the stack is on SQLite")
    config = ChaosConfig(load_seconds=15, kill_rounds=0, gap_s=2, broker_restart=False)
    injector = Injector(chaos.stack, chaos.tail, chaos.offsets)
    parked_before = len(chaos.tail.dead_letters)

    await faults_phase(chaos, config, injector)
    verdict, _ = await settle_and_verify(chaos)

    (fault,) = injector.faults
    assert fault.kind == "pg-connection-loss"
    assert fault.detail["backends_terminated"] > 0
    assert fault.recovery_s is not None, fault.as_dict()
    parked = chaos.tail.dead_letters[parked_before:]
    assert parked == [], f"transient database errors parked messages: {parked[:5]}"
    assert verdict.ok, verdict.as_dict()
