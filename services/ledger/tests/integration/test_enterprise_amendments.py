"""An enterprise amended in the catalog (decision 025), on SQLite and PostgreSQL: the ledger
keeps its latest version whatever order registration and amendment arrive in, books entries
from then on under the amended industry, keeps those booked before as they were, and its
district's regulators see it from the amendment on."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from wastex_ledger.adapters.repository import ManifestFilter, Repository
from wastex_ledger.domain.entries import EntryKind, SiteFacts
from wastex_ledger.domain.scope import Scope
from wastex_ledger.domain.visibility import Reach
from wastex_ledger.entrypoints.graphql import policy
from wastex_ledger.testing import Harness, Site, envelope, unique
from wastex_shared.auth import Principal, Role
from wastex_shared.envelope import derived_id
from wastex_shared.events.catalog import EnterpriseRegistered, SiteAdded
from wastex_shared.storage import UnitOfWorkFactory

G = EntryKind.GENERATED


async def generate(ledger: Harness, site: Site, tonnes: str, period: str) -> None:
    await ledger.service.report(
        site.enterprise_id,
        G,
        site_id=site.site_id,
        waste_code="SW01",
        tonnes=tonnes,
        period=period,
        from_prior_stock=False,
    )


async def test_entries_from_the_amendment_on_carry_the_amended_industry(ledger: Harness) -> None:
    old, new = "C3120", "C3110"
    steel = await ledger.register(unique("区"), industry=old)
    await generate(ledger, steel, "100", "2026-01")
    await ledger.amend_enterprise(steel, industry=new)
    await generate(ledger, steel, "40", "2026-02")
    in_district = Scope(district=steel.district, industry=old)
    assert (await ledger.figures(in_district, "2026-01")).generated == Decimal("100.000")
    assert (await ledger.figures(in_district, "2026-02")).generated == Decimal("0.000")
    amended = Scope(district=steel.district, industry=new)
    assert (await ledger.figures(amended, "2026-01")).generated == Decimal("0.000")
    assert (await ledger.figures(amended, "2026-02")).generated == Decimal("40.000")
    whole = Scope(enterprise_id=steel.enterprise_id)
    assert (await ledger.figures(whole, "2026-01", "2026-02")).generated == Decimal("140.000")


async def test_an_amendment_read_first_is_not_undone_by_the_registration(ledger: Harness) -> None:
    # The amendment travels on its own topic: read before the registration and the site,
    # which carry the enterprise as it was registered.
    steel = Site(unique("site"), unique("ent"), unique("区"), "C3120")
    moved_to = unique("区")
    await ledger.amend_enterprise(steel, industry="C3110", district=moved_to)
    await ledger.announce(steel)
    async with ledger.uow() as uow:
        repository = Repository(uow.session)
        assert await repository.enterprise_district(steel.enterprise_id) == moved_to
        site = await repository.site(steel.site_id)
    assert site is not None
    assert (site.industry, site.district) == ("C3110", steel.district)
    await generate(ledger, steel, "10", "2026-03")
    scope = Scope(industry="C3110", district=steel.district)
    assert (await ledger.figures(scope, "2026-03")).generated == Decimal("10.000")


async def test_an_older_amendment_read_late_changes_nothing(ledger: Harness) -> None:
    steel = await ledger.register(unique("区"))
    later, earlier = unique("区"), unique("区")
    await ledger.amend_enterprise(steel, version=3, district=later)
    await ledger.amend_enterprise(steel, version=2, district=earlier)
    async with ledger.uow() as uow:
        assert await Repository(uow.session).enterprise_district(steel.enterprise_id) == later


async def test_the_amended_district_s_regulators_read_its_manifests(ledger: Harness) -> None:
    # Its works stay in the old district; its new regulators read its shipments too.
    steel = await ledger.register(unique("区"))
    cement = await ledger.register(unique("区"), industry="C3011", kind="RECYCLER")
    match_id = await ledger.confirm(steel, cement, "10")
    moved_to = unique("区")
    await ledger.amend_enterprise(steel, district=moved_to)
    regulator = Principal(Role.REGULATOR, "regulator", None, moved_to)
    view = await ledger.service.manifest(derived_id("manifest", match_id))
    assert view is not None
    assert policy.may_see_manifest(regulator, view)
    listed = await ledger.service.manifests(Reach.of_district(moved_to), ManifestFilter(), 10, None)
    assert listed.total == 1
    elsewhere = Principal(Role.REGULATOR, "regulator", None, unique("区"))
    assert not policy.may_see_manifest(elsewhere, view)


# SQLite has one writer at a time: there the two cannot overlap.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_site_read_while_an_amendment_commits_takes_the_amendment(
    ledger: Harness, uow_factory: UnitOfWorkFactory, database_url: str
) -> None:
    steel = await ledger.register(unique("区"), industry="C3120")
    new_site = SiteFacts(unique("site"), steel.enterprise_id, steel.district, "C3120")
    owner_read, go_on = asyncio.Event(), asyncio.Event()

    async def site_fact() -> None:
        async with uow_factory() as uow:
            execute = uow.session.execute

            async def pausing(*args: Any, **kwargs: Any) -> Any:
                result = await execute(*args, **kwargs)
                if not owner_read.is_set():  # the first statement reads the enterprise
                    owner_read.set()
                    await go_on.wait()
                return result

            # The repository has no hook between its read and its write: the test pauses
            # the session itself, which mypy sees as assigning to a method.
            uow.session.execute = pausing  # type: ignore[method-assign]
            await Repository(uow.session).upsert_site(new_site, "annex", steel.district)
            await uow.commit()

    site_written = asyncio.create_task(site_fact())
    await owner_read.wait()
    amended = asyncio.create_task(ledger.amend_enterprise(steel, industry="C3110"))
    await asyncio.sleep(0.3)  # the amendment commits now, or waits for the site's lock
    go_on.set()
    await asyncio.gather(site_written, amended)
    async with uow_factory() as uow:
        site = await Repository(uow.session).site(new_site.site_id)
    assert site is not None
    assert site.industry == "C3110"


async def test_a_registration_read_late_leaves_a_site_added_after_an_amendment(
    ledger: Harness,
) -> None:
    # Registered, amended to C3110, then the site added: its fact carries version 2's values.
    # The ledger reads the site first, then the registration, the amendment later still.
    enterprise_id, site_id, district = unique("ent"), unique("site"), unique("区")
    async with ledger.uow() as uow:
        await ledger.service.on_site(
            uow,
            envelope("catalog.site-added", site_id),
            SiteAdded(
                site_id=site_id,
                enterprise_id=enterprise_id,
                name="annex",
                district=district,
                latitude=Decimal("30.6"),
                longitude=Decimal("114.3"),
                industry="C3110",
                enterprise_district=district,
                enterprise_version=2,
            ),
        )
        await ledger.service.on_enterprise(
            uow,
            envelope("catalog.enterprise-registered", enterprise_id),
            EnterpriseRegistered(
                enterprise_id=enterprise_id,
                name="Steel",
                credit_code="91420100MA4K0000XX",
                industry="C3120",
                district=district,
                kind="FACTORY",
            ),
        )
        await uow.commit()
    async with ledger.uow() as uow:
        site = await Repository(uow.session).site(site_id)
    assert site is not None
    assert site.industry == "C3110"
