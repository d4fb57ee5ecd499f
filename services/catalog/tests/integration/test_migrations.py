"""Migrations that move data, on both databases: a downgrade leaves what the previous
version can read."""

from __future__ import annotations

from datetime import UTC, date, datetime

from alembic import command
from sqlalchemy import Connection, text

from wastex_catalog.adapters.migrations import LOCATION
from wastex_catalog.adapters.repository import CatalogRepository
from wastex_catalog.adapters.tables import messaging
from wastex_catalog.domain import Enterprise, Licence
from wastex_catalog.testing import unique_credit_code
from wastex_shared.storage import UnitOfWorkFactory, make_engine
from wastex_shared.storage.migrate import alembic_config, upgrade

BEFORE_AMENDMENTS = "3bf29fe499d6"
TODAY = date(2026, 11, 27)


def licence(ident: str, valid_from: date, revoked_on: date) -> Licence:
    registered = Licence.register(
        id=ident,
        enterprise_id="ent-1",
        number=f"L-{ident}",
        waste_codes=["SW01"],
        annual_capacity_tonnes="100",
        valid_from=valid_from,
        valid_until=date(2028, 12, 31),
    )
    return registered.revoke(reason="吊销", effective_from=revoked_on, today=TODAY)


async def test_a_downgrade_ends_revoked_licences_the_day_before(database_url: str) -> None:
    engine = make_engine(database_url)
    factory = UnitOfWorkFactory(engine, messaging)
    at = datetime(2026, 11, 27, tzinfo=UTC)
    try:
        await upgrade(engine, LOCATION)
        async with factory() as uow:
            repository = CatalogRepository(uow.session)
            await repository.add_enterprise(
                Enterprise.register(
                    id="ent-1",
                    name="Recycler",
                    credit_code=unique_credit_code(),
                    industry="C4220",
                    district="青山区",
                    kind="RECYCLER",
                ),
                at,
            )
            await repository.add_licence(licence("running", date(2026, 1, 1), TODAY), at)
            await repository.add_licence(licence("unborn", date(2027, 1, 1), TODAY), at)
            await uow.commit()

        def to_previous_version(connection: Connection) -> None:
            command.downgrade(alembic_config(LOCATION, connection), BEFORE_AMENDMENTS)

        async with engine.begin() as conn:
            await conn.run_sync(to_previous_version)
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, valid_from, valid_until, waste_codes FROM licences ORDER BY id"
                    )
                )
            ).all()
        found = {r[0]: (str(r[1]), str(r[2]), r[3]) for r in rows}
        assert found["running"][:2] == ("2026-01-01", "2026-11-26")
        # Revoked before it began: one day, no code (the previous version refuses an
        # inverted validity).
        assert found["unborn"][:2] == ("2026-11-26", "2026-11-26")
        assert found["unborn"][2] in ([], "[]")
    finally:
        await engine.dispose()
