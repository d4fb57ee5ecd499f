"""Migrations that move data, on both databases: a downgrade leaves what the previous
version can read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from alembic import command
from sqlalchemy import Connection, text

from wastex_catalog.adapters.migrations import LOCATION
from wastex_catalog.adapters.repository import CatalogRepository
from wastex_catalog.adapters.tables import messaging
from wastex_catalog.domain import Enterprise, Licence
from wastex_catalog.testing import DISTRICTS, unique_credit_code
from wastex_shared.storage import UnitOfWorkFactory, make_engine
from wastex_shared.storage.migrate import alembic_config, upgrade

BEFORE_AMENDMENTS = "3bf29fe499d6"
AMENDMENTS = "9970e9174d99"
BEFORE_ENTERPRISE_VERSIONS = "66087a9816ba"
BEFORE_SITE_VERSIONS = "c4e1a7d2b9f0"
TODAY = date(2026, 11, 27)


def migrate(target: str, *, down: bool = False) -> Callable[[Connection], None]:
    """Upgrade (or downgrade) a connection's database to `target` (for `run_sync`)."""

    def run(connection: Connection) -> None:
        move = command.downgrade if down else command.upgrade
        move(alembic_config(LOCATION, connection), target)

    return run


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
                    districts=DISTRICTS,
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


async def test_existing_licences_get_their_present_version_and_a_number_key(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    created = datetime(2026, 3, 1, tzinfo=UTC)

    def insert(conn: Connection, ident: str, number: str, **changes: object) -> None:
        row = {
            "id": ident,
            "enterprise_id": "ent-1",
            "number": number,
            "waste_codes": '["SW01"]',
            "capacity": 100,
            "valid_from": date(2026, 1, 1),
            "valid_until": date(2028, 12, 31),
            "created_at": created,
            "revoked_on": None,
            "reason": None,
            "version": 1,
            **changes,
        }
        conn.execute(
            text(
                "INSERT INTO licences (id, enterprise_id, number, waste_codes,"
                " annual_capacity_tonnes, valid_from, valid_until, type, created_at, revoked_on,"
                " revocation_reason, version) VALUES (:id, :enterprise_id, :number,"
                " :waste_codes, :capacity, :valid_from, :valid_until, 'GENERAL_UTILISATION',"
                " :created_at, :revoked_on, :reason, :version)"
            ),
            row,
        )

    def seed(conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO enterprises (id, name, credit_code, industry, district, kind,"
                " created_at) VALUES ('ent-1', 'Recycler', :code, 'C4220', '青山区',"
                " 'RECYCLER', :at)"
            ),
            {"code": unique_credit_code(), "at": created},
        )
        insert(conn, "fresh", "鄂环 0001")
        insert(conn, "twin", "鄂环０００１", created_at=datetime(2026, 4, 1, tzinfo=UTC))
        insert(conn, "amended", "A-2", version=3)
        insert(conn, "revoked", "A-3", version=2, revoked_on=TODAY, reason="吊销")

    try:
        async with engine.begin() as conn:
            await conn.run_sync(migrate(AMENDMENTS))
            await conn.run_sync(seed)
            await conn.run_sync(migrate("head"))
            found_keys = (await conn.execute(text("SELECT id, number_key FROM licences"))).all()
            keys: dict[str, str] = {str(k[0]): str(k[1]) for k in found_keys}
            versions = (
                await conn.execute(
                    text(
                        "SELECT licence_id, version, change, reason, changed_by, changed_at"
                        " FROM licence_versions ORDER BY licence_id"
                    )
                )
            ).all()
        assert keys["fresh"] == "鄂环0001"
        assert keys["twin"] == "鄂环0001#twin"  # kept, told apart by its id
        found = {v[0]: v[1:5] for v in versions}
        assert found == {
            "amended": (3, "AMENDED", None, None),
            "fresh": (1, "REGISTERED", None, None),
            "revoked": (2, "REVOKED", "吊销", None),
            "twin": (1, "REGISTERED", None, None),
        }
        registered_at = {v[0]: v[5] for v in versions}["fresh"]
        assert str(registered_at).startswith("2026-03-01")
    finally:
        await engine.dispose()


async def test_existing_enterprises_get_version_one_as_their_first_version(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    created = datetime(2026, 3, 1, tzinfo=UTC)

    def seed(conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO enterprises (id, name, credit_code, industry, district, kind,"
                " created_at) VALUES ('ent-1', 'Steel', :code, 'C3110', '青山区',"
                " 'FACTORY', :at)"
            ),
            {"code": unique_credit_code(), "at": created},
        )

    try:
        async with engine.begin() as conn:
            await conn.run_sync(migrate(BEFORE_ENTERPRISE_VERSIONS))
            await conn.run_sync(seed)
            await conn.run_sync(migrate("head"))
            version = (await conn.execute(text("SELECT version FROM enterprises"))).scalar_one()
            versions = (
                await conn.execute(
                    text(
                        "SELECT enterprise_id, version, reason, changed_by, name, industry,"
                        " district, changed_at FROM enterprise_versions"
                    )
                )
            ).all()
        assert version == 1
        [first] = versions
        assert tuple(first[:7]) == ("ent-1", 1, None, None, "Steel", "C3110", "青山区")
        assert str(first[7]).startswith("2026-03-01")
    finally:
        await engine.dispose()


async def test_existing_sites_get_version_one_as_their_first_version(database_url: str) -> None:
    engine = make_engine(database_url)
    created = datetime(2026, 3, 1, tzinfo=UTC)

    def seed(conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO enterprises (id, name, credit_code, industry, district, kind,"
                " created_at, version) VALUES ('ent-1', 'Steel', :code, 'C3110', '青山区',"
                " 'FACTORY', :at, 1)"
            ),
            {"code": unique_credit_code(), "at": created},
        )
        conn.execute(
            text(
                "INSERT INTO sites (id, enterprise_id, name, district, latitude, longitude,"
                " created_at) VALUES ('site-1', 'ent-1', 'works', '青山区', 30.64, 114.41, :at)"
            ),
            {"at": created},
        )

    try:
        async with engine.begin() as conn:
            await conn.run_sync(migrate(BEFORE_SITE_VERSIONS))
            await conn.run_sync(seed)
            await conn.run_sync(migrate("head"))
            version = (await conn.execute(text("SELECT version FROM sites"))).scalar_one()
            versions = (
                await conn.execute(
                    text(
                        "SELECT site_id, version, reason, changed_by, name, district, latitude"
                        " FROM site_versions"
                    )
                )
            ).all()
            amendments = (
                await conn.execute(text("SELECT amendments FROM site_register"))
            ).scalar_one()
            await conn.run_sync(migrate(BEFORE_SITE_VERSIONS, down=True))
            after = (await conn.execute(text("SELECT name FROM sites"))).scalar_one()
        assert (version, amendments, after) == (1, 0, "works")
        [first] = versions
        assert tuple(first[:6]) == ("site-1", 1, None, None, "works", "青山区")
        assert Decimal(str(first[6])) == Decimal("30.64")
    finally:
        await engine.dispose()
