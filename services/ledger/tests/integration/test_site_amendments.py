"""A site amended in the catalog (decision 026), on SQLite and PostgreSQL: the ledger keeps
its latest version whatever order addition and amendment arrive in, books entries from then
on in the amended district, and keeps those booked before, and the districts of manifests
opened before, as they were. The site's version and its enterprise's are kept apart."""

from __future__ import annotations

from decimal import Decimal

from wastex_ledger.adapters.repository import Repository
from wastex_ledger.domain.entries import EntryKind, SiteFacts
from wastex_ledger.domain.scope import Scope
from wastex_ledger.testing import Harness, Site, unique
from wastex_shared.envelope import derived_id

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


async def kept(ledger: Harness, site: Site) -> SiteFacts:
    found = await ledger.service.site(site.site_id)
    assert found is not None
    return found


async def test_entries_from_the_amendment_on_count_in_the_amended_district(
    ledger: Harness,
) -> None:
    steel = await ledger.register(unique("区"))
    await generate(ledger, steel, "100", "2026-01")
    moved = await ledger.amend_site(steel, unique("区"))
    await generate(ledger, moved, "40", "2026-02")
    # Booked after the amendment, though for a month before it: it counts where it is read.
    await generate(ledger, moved, "10", "2026-01")
    before, after = Scope(district=steel.district), Scope(district=moved.district)
    assert (await ledger.figures(before, "2026-01")).generated == Decimal("100.000")
    assert (await ledger.figures(before, "2026-02")).generated == Decimal("0.000")
    assert (await ledger.figures(after, "2026-01")).generated == Decimal("10.000")
    assert (await ledger.figures(after, "2026-02")).generated == Decimal("40.000")
    whole = Scope(enterprise_id=steel.enterprise_id)
    assert (await ledger.figures(whole, "2026-01", "2026-02")).generated == Decimal("150.000")


async def test_an_entry_booked_before_is_reversed_where_it_was_booked(ledger: Harness) -> None:
    steel = await ledger.register(unique("区"))
    entry = await ledger.service.report(
        steel.enterprise_id,
        G,
        site_id=steel.site_id,
        waste_code="SW01",
        tonnes="100",
        period="2026-01",
    )
    moved = await ledger.amend_site(steel, unique("区"))
    await ledger.service.reverse_entry(steel.enterprise_id, entry.id, "double counted")
    for district in (steel.district, moved.district):
        figures = await ledger.figures(Scope(district=district), "2026-01")
        assert figures.generated == Decimal("0.000")


async def test_an_amendment_read_first_is_not_taken_back_by_the_addition(
    ledger: Harness,
) -> None:
    # The amendment travels on its own topic: read before the site's addition, which
    # carries the site as it was added.
    steel = Site(unique("site"), unique("ent"), unique("区"), "C3120")
    moved = await ledger.amend_site(steel, unique("区"))
    await ledger.announce(steel)
    assert (await kept(ledger, steel)).district == moved.district
    await generate(ledger, steel, "10", "2026-03")
    assert (await ledger.figures(Scope(district=moved.district), "2026-03")).generated == Decimal(
        "10.000"
    )


async def test_a_stale_fact_read_after_the_amendment_changes_nothing(ledger: Harness) -> None:
    steel = await ledger.register(unique("区"))
    latest = await ledger.amend_site(steel, unique("区"), version=3)
    await ledger.amend_site(steel, unique("区"), version=2)
    await ledger.announce(steel)  # the addition again (redelivered, or read late)
    assert (await kept(ledger, steel)).district == latest.district


async def test_the_site_s_version_and_its_enterprise_s_are_kept_apart(ledger: Harness) -> None:
    steel = await ledger.register(unique("区"), industry="C3120")
    await ledger.amend_enterprise(steel, industry="C3110")
    # The site's amendment was made before the enterprise's: it carries enterprise version 1.
    moved = await ledger.amend_site(steel, unique("区"))
    site = await kept(ledger, steel)
    assert (site.district, site.industry) == (moved.district, "C3110")
    # And the other way round: an enterprise amendment leaves the site's district be.
    await ledger.amend_enterprise(steel, version=3, industry="C3130")
    site = await kept(ledger, steel)
    assert (site.district, site.industry) == (moved.district, "C3130")


async def test_a_manifest_opened_before_keeps_its_districts(ledger: Harness) -> None:
    steel = await ledger.register(unique("区"))
    cement = await ledger.register(unique("区"), industry="C3011", kind="RECYCLER")
    await generate(ledger, steel, "100", "2026-02")
    match_id = await ledger.confirm(steel, cement, "50")
    moved_steel = await ledger.amend_site(steel, unique("区"))
    await ledger.amend_site(cement, unique("区"))
    sent = await ledger.service.dispatch(steel.enterprise_id, match_id, "50", period="2026-02")
    await ledger.service.receive(cement.enterprise_id, sent.id, "50")
    view = await ledger.service.manifest(derived_id("manifest", match_id))
    assert view is not None
    assert (view.supplier_district, view.recycler_district) == (steel.district, cement.district)
    # The receipt's entries are booked after the amendments: in the amended districts.
    shipped = await ledger.figures(Scope(district=moved_steel.district), "2026-02")
    assert shipped.transferred_for_utilisation == Decimal("50.000")
    left = await ledger.figures(Scope(district=steel.district), "2026-02")
    assert (left.generated, left.transferred_for_utilisation) == (
        Decimal("100.000"),
        Decimal("0.000"),
    )


async def test_a_manifest_opened_before_its_site_was_known_takes_the_latest_district(
    ledger: Harness,
) -> None:
    steel = Site(unique("site"), unique("ent"), unique("区"), "C3120")
    cement = await ledger.register(unique("区"), industry="C3011", kind="RECYCLER")
    match_id = await ledger.confirm(steel, cement, "50")
    moved = await ledger.amend_site(steel, unique("区"))
    await ledger.announce(steel)  # the addition, read after the amendment
    async with ledger.uow() as uow:
        view = await Repository(uow.session).manifest_view(derived_id("manifest", match_id))
    assert view is not None
    assert view.supplier_district == moved.district
