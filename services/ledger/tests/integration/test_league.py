"""The regulator's league table (`enterpriseUtilisation`) over HTTP, on SQLite and
PostgreSQL: its order, rateBelow, district scoping per role, paging, and figures equal to
`utilisation(scope: {enterpriseId})` row by row."""

from __future__ import annotations

import base64
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import BigInteger, literal, select

from wastex_ledger.adapters.league import position
from wastex_ledger.domain.entries import EntryKind
from wastex_ledger.domain.figures import ratio
from wastex_ledger.domain.league import NO_RATE, position_of
from wastex_ledger.testing import Harness, Site, unique
from wastex_shared.auth import JwtConfig, Role, issue_token
from wastex_shared.storage import UnitOfWorkFactory

from .test_graphql import Api as LedgerApi
from .test_graphql import served

JWT = JwtConfig()
FIGURES = """
  from to wasteClass generatedTonnes utilisedTonnes utilisedInPlantTonnes
  transferredForUtilisationTonnes priorStockUtilisedTonnes disposedTonnes
  priorStockDisposedTonnes storedTonnes openingStockTonnes intakeTonnes rate inPlantShare
  disposalRate
"""
LEAGUE = """
query($from: String!, $to: String!, $district: String, $industry: String,
      $wasteClass: WasteClass, $rateBelow: Decimal, $first: Int, $after: String) {
  enterpriseUtilisation(from: $from, to: $to, district: $district, industry: $industry,
                        wasteClass: $wasteClass, rateBelow: $rateBelow, first: $first,
                        after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { enterpriseId district industry enterprise { id } figures { FIGURES } } }
  }
}""".replace("FIGURES", FIGURES)
UTILISATION = """
query($scope: UtilisationScope!, $from: String!, $to: String!) {
  utilisation(scope: $scope, from: $from, to: $to) { FIGURES }
}""".replace("FIGURES", FIGURES)
YEAR = {"from": "2026-01", "to": "2026-12"}
ADMIN = issue_token(JWT, Role.ADMIN)
CITY = issue_token(JWT, Role.REGULATOR, district="*")


def regulator(district: str) -> str:
    return issue_token(JWT, Role.REGULATOR, district=district)


def tenant(site: Site, role: Role = Role.ENTERPRISE) -> str:
    return issue_token(JWT, role, site.enterprise_id)


class Api(LedgerApi):
    async def league(self, token: str | None, **arguments: Any) -> Any:
        body = await self.execute(LEAGUE, token, **{**YEAR, **arguments})
        assert not body.get("errors"), body["errors"]
        return body["data"]["enterpriseUtilisation"]

    async def refusal(self, token: str | None, **arguments: Any) -> tuple[str, str | None]:
        body = await self.execute(LEAGUE, token, **{**YEAR, **arguments})
        assert body["data"]["enterpriseUtilisation"] is None, body
        extensions = body["errors"][0]["extensions"]
        return extensions["code"], extensions.get("field")

    async def utilisation(self, scope: dict[str, str], **months: str) -> Any:
        body = await self.execute(UTILISATION, CITY, scope=scope, **(months or YEAR))
        assert not body.get("errors"), body["errors"]
        return body["data"]["utilisation"]


@pytest.fixture
async def api(ledger: Harness) -> AsyncIterator[Api]:
    async with served(ledger) as http:
        yield Api(http)


async def book(ledger: Harness, site: Site, kind: EntryKind, tonnes: str, **more: Any) -> None:
    await ledger.service.report(
        site.enterprise_id,
        kind,
        site_id=site.site_id,
        waste_code=more.pop("code", "SW01"),
        tonnes=tonnes,
        period=more.pop("period", "2026-03"),
        **more,
    )


@dataclass
class District:
    """青山区's enterprises, each named for its rate this year, and one of 新洲区."""

    third: Site  # 50 t from prior stock used of 100 t generated: 50 ÷ 150
    half: Site  # 50 of 100 used in the plant
    also_half: Site  # 150 of 300
    steel: Site  # 100 of 150 shipped to cement, received at 100 t: 0.6667
    most: Site  # 90 of 100
    works_elsewhere: Site  # registered in 青山区, its works in 新洲区: 10 of 10
    silent: Site  # reported nothing
    hazardous_only: Site  # 100 t of HW08 and nothing general
    last_year: Site  # generated in 2025 only
    cement: Site  # 新洲区's: received 100 t, generated nothing

    def rated(self) -> list[Site]:
        halves = sorted([self.half, self.also_half], key=lambda s: s.enterprise_id)
        return [self.third, *halves, self.steel, self.most, self.works_elsewhere]

    def unrated(self) -> list[Site]:
        """Those of 青山区 with no rate: after the rated ones, by id."""
        none = [self.silent, self.hazardous_only, self.last_year]
        return sorted(none, key=lambda s: s.enterprise_id)


@pytest.fixture
async def district(ledger: Harness) -> District:
    elsewhere = {"cement", "works_elsewhere"}
    sites = {
        name: await ledger.register("青山区")
        for name in District.__dataclass_fields__
        if name not in elsewhere
    }
    sites["cement"] = await ledger.register("新洲区", industry="C3011", kind="RECYCLER")
    sites["works_elsewhere"] = Site(unique("site"), unique("ent"), "新洲区", "C3120")
    await ledger.announce(sites["works_elsewhere"], registered_in="青山区")
    d = District(**sites)
    await book(ledger, d.third, EntryKind.GENERATED, "100")
    await book(ledger, d.third, EntryKind.OPENING_STOCK, "50")
    await book(ledger, d.third, EntryKind.UTILISED_IN_PLANT, "50", from_prior_stock=True)
    for site, generated, used in ((d.half, "100", "50"), (d.also_half, "300", "150")):
        await book(ledger, site, EntryKind.GENERATED, generated)
        await book(ledger, site, EntryKind.UTILISED_IN_PLANT, used)
    await book(ledger, d.most, EntryKind.GENERATED, "100")
    await book(ledger, d.most, EntryKind.UTILISED_IN_PLANT, "90", period="2026-11")
    await book(ledger, d.works_elsewhere, EntryKind.GENERATED, "10")
    await book(ledger, d.works_elsewhere, EntryKind.UTILISED_IN_PLANT, "10")
    await book(ledger, d.hazardous_only, EntryKind.GENERATED, "100", code="HW08")
    await book(ledger, d.last_year, EntryKind.GENERATED, "100", period="2025-12")
    await book(ledger, d.steel, EntryKind.GENERATED, "150")
    match = await ledger.confirm(d.steel, d.cement, "100.000")
    sent = await ledger.service.dispatch(d.steel.enterprise_id, match, "100.000", period="2026-03")
    await ledger.service.receive(d.cement.enterprise_id, sent.id, "100.000")
    return d


def ids(connection: Any) -> list[str]:
    return [e["node"]["enterpriseId"] for e in connection["edges"]]


def position_in(cursor: str) -> int:
    stamp, _, _ = base64.urlsafe_b64decode(cursor).decode().partition(":")
    return int(stamp)


async def test_the_table_ranks_by_rate_with_no_rate_last_then_by_id(
    api: Api, district: District
) -> None:
    table = await api.league(regulator("青山区"), first=100)
    expected = [s.enterprise_id for s in district.rated() + district.unrated()]
    assert ids(table) == expected
    assert table["totalCount"] == len(expected)
    rates = [e["node"]["figures"]["rate"] for e in table["edges"]]
    assert rates == [
        "0.3333",
        "0.5000",
        "0.5000",
        "0.6667",
        "0.9000",
        "1.0000",
        None,
        None,
        None,
    ]
    first = table["edges"][0]["node"]
    assert first["district"] == "青山区"
    assert first["industry"] == "C3120"
    assert first["enterprise"] == {"id": first["enterpriseId"]}


async def test_each_row_is_what_utilisation_answers_for_the_enterprise(
    api: Api, district: District
) -> None:
    for waste_class in ("GENERAL", "HAZARDOUS", "ALL"):
        for months in (YEAR, {"from": "2025-12", "to": "2026-03"}):
            table = await api.league(CITY, first=100, wasteClass=waste_class, **months)
            assert table["totalCount"] == 10  # both districts: the city
            for edge in table["edges"]:
                row = edge["node"]
                scope = {"enterpriseId": row["enterpriseId"], "wasteClass": waste_class}
                assert row["figures"] == await api.utilisation(scope, **months), row
                rate = row["figures"]["rate"]
                expected = position_of(None if rate is None else Decimal(rate))
                assert position_in(edge["cursor"]) == expected
    # Nothing reported: zeros and no rate, listed all the same.
    table = await api.league(regulator("青山区"), first=100)
    [silent] = [
        e["node"]
        for e in table["edges"]
        if e["node"]["enterpriseId"] == (district.silent.enterprise_id)
    ]
    assert silent["figures"]["generatedTonnes"] == "0.000"
    assert silent["figures"]["utilisedTonnes"] == "0.000"
    assert silent["figures"]["rate"] is None
    # The recycler's intake is no generation of its own.
    [cement] = (await api.league(regulator("新洲区")))["edges"]
    figures = cement["node"]["figures"]
    assert (figures["intakeTonnes"], figures["rate"]) == ("100.000", None)
    # Hazardous waste: a class of its own, and both with ALL.
    hazardous = await api.league(regulator("青山区"), wasteClass="HAZARDOUS", rateBelow="1")
    assert ids(hazardous) == [district.hazardous_only.enterprise_id]
    assert hazardous["edges"][0]["node"]["figures"]["wasteClass"] == "HAZARDOUS"


async def test_prior_year_stock_used_with_nothing_generated_is_a_rate(
    api: Api, ledger: Harness
) -> None:
    """helper-54: the docs called the rows with no rate those that generated nothing; the
    rate's denominator is generation plus prior-year stock utilised, so a plant using last
    year's stock with nothing generated this year is ranked at 100 %."""
    stock = await ledger.register("江夏区")
    silent = await ledger.register("江夏区")
    await book(ledger, stock, EntryKind.GENERATED, "40", period="2025-05")
    await book(ledger, stock, EntryKind.STORED, "40", period="2025-05")
    await book(ledger, stock, EntryKind.UTILISED_IN_PLANT, "40", from_prior_stock=True)
    table = await api.league(regulator("江夏区"))
    rows = {e["node"]["enterpriseId"]: e["node"]["figures"] for e in table["edges"]}
    assert ids(table) == [stock.enterprise_id, silent.enterprise_id]
    assert rows[stock.enterprise_id]["generatedTonnes"] == "0.000"
    assert rows[stock.enterprise_id]["rate"] == "1.0000"
    assert rows[silent.enterprise_id]["rate"] is None


async def test_rate_below_keeps_the_rows_with_a_rate_under_it(api: Api, district: District) -> None:
    qingshan = regulator("青山区")

    async def below(rate: str) -> tuple[list[str], int]:
        table = await api.league(qingshan, rateBelow=rate)
        return ids(table), table["totalCount"]

    rated = [s.enterprise_id for s in district.rated()]
    assert await below("0.5") == (rated[:1], 1)
    assert await below("0.5001") == (rated[:3], 3)
    assert await below("0.8") == (rated[:4], 4)
    assert await below("1") == (rated[:5], 5)  # 1.0000 is not under 100 %
    assert await below("0") == ([], 0)
    for wrong in ("1.5", "-0.1", "NaN"):
        assert await api.refusal(qingshan, rateBelow=wrong) == ("INVALID_RATE", "rateBelow")


async def test_who_may_rank_which_enterprises(api: Api, district: District) -> None:
    qingshan = [s.enterprise_id for s in district.rated() + district.unrated()]
    xinzhou = [district.cement.enterprise_id]
    # A district regulator: its own district, named or not.
    assert ids(await api.league(regulator("青山区"))) == qingshan[:20]
    assert ids(await api.league(regulator("青山区"), district=" 青山区 ")) == qingshan
    assert ids(await api.league(regulator("新洲区"))) == xinzhou
    assert await api.refusal(regulator("青山区"), district="新洲区") == (
        "NOT_AUTHORIZED",
        "district",
    )
    # '*' and admins: any district, or the whole city; a typo is no empty district.
    for city in (CITY, ADMIN):
        assert ids(await api.league(city, district="新洲区")) == xinzhou
        assert set(ids(await api.league(city))) == set(qingshan + xinzhou)
        assert await api.refusal(city, district="新洲") == ("UNKNOWN_DISTRICT", "district")
    # A token signed for a district no register lists nor record holds (outside `wastex
    # token`): an empty table of its own, not a refusal of a name it never typed.
    assert (await api.league(regulator("无此区")))["totalCount"] == 0
    assert await api.refusal(regulator("无此区"), district="无此区") == (
        "UNKNOWN_DISTRICT",
        "district",
    )
    # Tenants and strangers: nobody.
    for stranger in (
        None,
        tenant(district.half),
        tenant(district.cement, Role.RECYCLER),
    ):
        assert (await api.refusal(stranger))[0] == "NOT_AUTHORIZED"
        assert (await api.refusal(stranger, district="青山区"))[0] == "NOT_AUTHORIZED"


async def test_industry_narrows_the_table(api: Api, ledger: Harness, district: District) -> None:
    cement_plant = await ledger.register("青山区", industry="C3011")
    table = await api.league(regulator("青山区"), industry="C3011")
    assert ids(table) == [cement_plant.enterprise_id]
    assert (await api.league(CITY, industry="C3011"))["totalCount"] == 2  # and 新洲区's
    # helper-43: a code typed in lower case, or malformed, gave an empty table.
    assert (await api.league(CITY, industry=" c3011"))["totalCount"] == 2
    assert await api.refusal(CITY, industry="ZZ") == ("INVALID_INDUSTRY_CODE", "industry")


async def test_months_and_page_sizes_are_checked_as_elsewhere(api: Api, district: District) -> None:
    qingshan = regulator("青山区")
    assert await api.refusal(qingshan, **{"from": "2026-13"}) == ("INVALID_PERIOD", "from")
    assert await api.refusal(qingshan, to="26-12") == ("INVALID_PERIOD", "to")
    assert await api.refusal(qingshan, **{"from": "2026-12", "to": "2026-01"}) == (
        "INVALID_PERIOD",
        "from",
    )
    assert await api.refusal(qingshan, first=101) == ("INVALID_PAGE_SIZE", "first")
    assert await api.refusal(qingshan, first=-1) == ("INVALID_PAGE_SIZE", "first")


async def test_pages_follow_one_another_by_cursor(api: Api, district: District) -> None:
    qingshan = regulator("青山区")
    whole = ids(await api.league(qingshan, first=100))
    seen: list[str] = []
    after = None
    while True:
        page = await api.league(qingshan, first=2, after=after)
        assert page["totalCount"] == len(whole)
        seen += ids(page)
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert seen == whole
    # Under rateBelow too, and from a cursor among the rows with no rate.
    rated = ids(await api.league(qingshan, rateBelow="0.95", first=2))
    rest = await api.league(qingshan, rateBelow="0.95", first=10, after=after)
    assert (rated, ids(rest)) == (whole[:2], [])
    empty = await api.league(qingshan, first=0)
    assert (ids(empty), empty["pageInfo"]["hasNextPage"]) == ([], True)
    for forged in ("99999999999999999999999:x", "1", "1:\x00", "x:y"):
        cursor = base64.urlsafe_b64encode(forged.encode()).decode()
        assert await api.refusal(qingshan, after=cursor) == ("INVALID_CURSOR", "after")
    assert await api.refusal(qingshan, after="not base64!") == ("INVALID_CURSOR", "after")


def _cases() -> list[tuple[int, int]]:
    """Utilised and denominator kilograms, ties and signs included."""
    ties = [(12_345, 100_000), (12_355, 100_000), (1, 20_000), (3, 20_000), (5, 2)]
    edges = [(0, 0), (7, 0), (0, 9), (1, 3), (2, 3), (10**13, 10**13 + 1), (10**14, 3)]
    signs = [(-12_355, 100_000), (12_355, -100_000), (-12_345, -100_000), (-1, 3)]
    generator = random.Random(20_260_301)
    drawn = [
        (generator.randrange(0, 10**12), generator.randrange(1, 10**12)) for _ in range(150)
    ] + [(n, generator.randrange(1, 2 * n + 2)) for n in range(0, 60)]
    return ties + edges + signs + drawn


async def test_the_sql_position_is_the_shown_rate(uow_factory: UnitOfWorkFactory) -> None:
    """`adapters.league.position` computes, from integer kilograms, what `position_of`
    makes of the rate `ratio` shows (4 places, half-even), on both engines."""
    cases = _cases()
    async with uow_factory.reading() as uow:
        for start in range(0, len(cases), 50):
            chunk = cases[start : start + 50]
            statement = select(
                *(position(literal(u, BigInteger), literal(d, BigInteger)) for u, d in chunk)
            )
            got = list((await uow.session.execute(statement)).one())
            want = [position_of(ratio(Decimal(u), Decimal(d))) for u, d in chunk]
            assert got == want, chunk
    assert position_of(ratio(Decimal(7), Decimal(0))) == NO_RATE
