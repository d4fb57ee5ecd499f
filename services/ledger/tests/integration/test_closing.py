"""A year's books close on a configured day of the next year (decision 036): nothing more is
booked to it from the day after, through the service, GraphQL and Kafka, on SQLite and
PostgreSQL; a receipt after the close is booked to its own month, as prior-year stock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from wastex_ledger.adapters.repository import Repository
from wastex_ledger.domain.closing import DEFAULT_CLOSE, YearClose
from wastex_ledger.domain.entries import EntryKind
from wastex_ledger.domain.manifest import GapCause, Manifest, ManifestStatus
from wastex_ledger.domain.periods import Period
from wastex_ledger.domain.scope import Scope
from wastex_ledger.entrypoints.kafka import build_consumer
from wastex_ledger.testing import Harness, Site, harness, unique
from wastex_shared.calendar import china_day
from wastex_shared.envelope import derived_id
from wastex_shared.errors import DomainError
from wastex_shared.messaging.consumer import LOG_APPEND_TIME, KeptRecord
from wastex_shared.storage import UnitOfWorkFactory
from wastex_shared.testing.graphql_client import eventually

from .test_graphql import Api, regulator, served, tenant
from .test_kafka import (
    consuming,
    dead_letters,
    produce,
    settings_for,
    signed_report,
    site_added,
    waiting_for,
)

D = Decimal
#: 23:59:59 on 31 March 2026 in China: the day 2025 closes on, still open.
CLOSE_DAY = datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC)
#: Midnight in China: 1 April 2026, 2025 closed.
CLOSED = datetime(2026, 3, 31, 16, 0, 0, tzinfo=UTC)
#: A day of 2026 after 2025 closed.
AFTER = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)
G, IN_PLANT, STORED = EntryKind.GENERATED, EntryKind.UTILISED_IN_PLANT, EntryKind.STORED


@pytest.fixture
def ledger(uow_factory: UnitOfWorkFactory) -> Harness:
    """The ledger with the default close, 31 March (the harness keeps years open)."""
    return harness(uow_factory, DEFAULT_CLOSE)


async def report(ledger: Harness, site: Site, kind: EntryKind, tonnes: str, period: str) -> str:
    entry = await ledger.service.report(
        site.enterprise_id,
        kind,
        site_id=site.site_id,
        waste_code="SW01",
        tonnes=tonnes,
        period=period,
        from_prior_stock=kind is IN_PLANT and period.startswith("2026"),
    )
    return entry.id


async def sent_on_the_close_day(ledger: Harness) -> tuple[Site, Site, Manifest]:
    """A steelworks that generated 150 t in 2025-12 and stored 50 of it sends 100 t to a
    cement works, booked to 2025-12, on the day 2025 closes on (still open): the two sites
    and the manifest on the road."""
    steel, cement = await ledger.register("青山区"), await ledger.register("新洲区")
    ledger.clock.fixed = CLOSE_DAY
    await report(ledger, steel, G, "150.000", "2025-12")
    await report(ledger, steel, STORED, "50.000", "2025-12")
    match_id = await ledger.confirm(steel, cement, "100.000")
    ledger.clock.fixed = CLOSE_DAY
    sent = await ledger.service.dispatch(steel.enterprise_id, match_id, "100.000", period="2025-12")
    return steel, cement, sent


async def refused(code: str, call: Any) -> DomainError:
    with pytest.raises(DomainError) as err:
        await call
    assert err.value.code == code, err.value
    return err.value


async def test_nothing_is_booked_to_a_year_from_the_day_after_it_closed(ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    svc = ledger.service
    ledger.clock.fixed = CLOSE_DAY
    await report(ledger, steel, G, "100.000", "2025-12")  # the close day itself is open
    used = await report(ledger, steel, STORED, "40.000", "2025-12")
    ledger.clock.fixed = CLOSED
    late = await refused("PERIOD_CLOSED", report(ledger, steel, G, "1.000", "2025-12"))
    assert late.field == "period"
    assert "2025 closed on 2026-03-31" in late.message
    for call in (
        svc.reverse_entry(steel.enterprise_id, used, "meter fixed"),
        svc.correct_entry(steel.enterprise_id, used, "45.000", "meter fixed"),
    ):
        assert (await refused("PERIOD_CLOSED", call)).field == "id"
    await report(ledger, steel, G, "7.000", "2026-03")  # the next year is open
    year = await ledger.figures(Scope(enterprise_id=steel.enterprise_id), "2025-01", "2025-12")
    assert (year.generated, year.stored) == (D("100.000"), D("40.000"))


async def test_a_shipment_is_not_dispatched_to_a_closed_year(ledger: Harness) -> None:
    steel, cement = await ledger.register("青山区"), await ledger.register("新洲区")
    ledger.clock.fixed = CLOSE_DAY
    await report(ledger, steel, G, "100.000", "2025-12")
    match_id = await ledger.confirm(steel, cement, "50.000")
    ledger.clock.fixed = CLOSED
    svc = ledger.service
    late = await refused(
        "PERIOD_CLOSED", svc.dispatch(steel.enterprise_id, match_id, "50.000", period="2025-12")
    )
    assert late.field == "period"
    # Sent this month, from this year's waste.
    await report(ledger, steel, G, "50.000", "2026-04")
    sent = await svc.dispatch(steel.enterprise_id, match_id, "50.000")
    assert sent.period == Period(2026, 4)


async def test_a_receipt_after_the_close_is_booked_to_its_month_as_prior_year_stock(
    ledger: Harness,
) -> None:
    """A measurement is never refused (decision 020): the closed year's figures and verdict
    stay as they were at its close, the shipment on the road; the receipt counts in the
    year it came, as the closed year's waste utilised then (综合利用往年贮存量)."""
    steel, cement, sent = await sent_on_the_close_day(ledger)
    svc = ledger.service
    scope = Scope(enterprise_id=steel.enterprise_id)
    before = await ledger.figures(scope, "2025-01", "2025-12")
    verdict = await svc.assess(steel.enterprise_id, 2025)
    assert verdict.results  # judged on something

    ledger.clock.fixed = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)
    received = await svc.receive(cement.enterprise_id, sent.id, "99.000")  # within 2 %
    assert received.period == Period(2025, 12)  # the manifest keeps its month of dispatch
    async with ledger.uow() as uow:
        repo = Repository(uow.session)
        out = await repo.entry(derived_id(sent.id, EntryKind.TRANSFERRED_OUT))
        intake = await repo.entry(derived_id(sent.id, EntryKind.TRANSFERRED_IN))
    assert out is not None
    assert intake is not None
    assert (out.period, out.from_prior_stock, out.tonnes) == (Period(2026, 4), True, D("99.000"))
    assert (intake.period, intake.from_prior_stock) == (Period(2026, 4), False)
    assert out.reason is not None
    assert "received after 2025 closed on 2026-03-31" in out.reason

    assert await ledger.figures(scope, "2025-01", "2025-12") == before
    assert await svc.assess(steel.enterprise_id, 2025) == verdict
    april = await ledger.figures(scope, "2026-04")
    assert (april.utilised, april.prior_stock_utilised, april.rate) == (
        D("99.000"),
        D("99.000"),
        D("1.0000"),
    )
    # What steel stored in 2025 is still there to draw on: the shipment was not storage.
    await report(ledger, steel, IN_PLANT, "50.000", "2026-04")
    await refused("BALANCE_VIOLATION", report(ledger, steel, IN_PLANT, "0.001", "2026-04"))


async def test_graphql_says_period_closed_in_user_errors(ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    ledger.clock.fixed = CLOSED
    async with served(ledger) as http:
        result = await Api(http).report(tenant(steel), steel, "1.000", "2025-12")
    assert result["entry"] is None
    [error] = result["userErrors"]
    assert (error["code"], error["field"]) == ("PERIOD_CLOSED", "period")
    assert "2025 closed on 2026-03-31" in error["message"]


FINAL = """
query($scope: UtilisationScope!, $from: String!, $to: String!, $id: ID!, $year: Int!) {
  utilisation(scope: $scope, from: $from, to: $to) { generatedTonnes final }
  zeroWasteAssessment(enterpriseId: $id, year: $year) { year final figures { final } }
}"""


async def test_a_regulator_reads_whether_figures_are_final(ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    ledger.clock.fixed = CLOSE_DAY
    await report(ledger, steel, G, "100.000", "2025-12")
    scope = {"enterpriseId": steel.enterprise_id}

    async def final(start: str, end: str) -> tuple[bool, bool, bool]:
        data = await api.data(
            FINAL,
            regulator("*"),
            scope=scope,
            id=steel.enterprise_id,
            year=int(end[:4]),
            **{"from": start, "to": end},
        )
        assessment = data["zeroWasteAssessment"]
        return (
            data["utilisation"]["final"],
            assessment["final"],
            assessment["figures"]["final"],
        )

    async with served(ledger) as http:
        api = Api(http)
        assert await final("2025-01", "2025-12") == (False, False, False)
        ledger.clock.fixed = CLOSED
        assert await final("2025-01", "2025-12") == (True, True, True)
        # A range reaching into an open year is not final.
        assert await final("2025-12", "2026-01") == (False, False, False)


async def test_kafka_reports_of_a_closed_year_are_parked_period_closed(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory, ledger: Harness
) -> None:
    """One of a closed year is parked at once, even on a site not known yet; one the ledger
    read before the close, waiting for its site (decision 029) while the year closed, is
    booked when the site comes: the factory reported in time."""
    known = await ledger.register("青山区")
    new = Site(unique("site"), known.enterprise_id, "洪山区", known.industry)
    waiting = Site(unique("site"), known.enterprise_id, "洪山区", known.industry)
    ledger.clock.fixed = CLOSE_DAY
    async with consuming(kafka_bootstrap, ledger):
        await produce(
            kafka_bootstrap,
            "ingest.ledger-reports.v1",
            [signed_report(waiting, "generation", "c-wait", tonnes="2", period="2025-12")],
        )

        async def one_waiting() -> Any:
            return (await waiting_for(uow_factory)).get(waiting.site_id) == 1

        await eventually(one_waiting, timeout=30)
        ledger.clock.fixed = CLOSED
        await produce(
            kafka_bootstrap,
            "ingest.ledger-reports.v1",
            [
                signed_report(known, "generation", "c-known", tonnes="1", period="2025-12"),
                signed_report(new, "generation", "c-new", tonnes="1", period="2025-11"),
            ],
        )

        async def three_parked() -> Any:
            letters = await dead_letters(uow_factory, known.enterprise_id)
            return letters if len(letters) == 2 else None

        letters = await eventually(three_parked, timeout=30)
        assert await waiting_for(uow_factory) == {waiting.site_id: 1}  # c-new never waited
        await produce(
            kafka_bootstrap, "catalog.site-added.v1", [(site_added(waiting), waiting.site_id, None)]
        )

        async def none_waiting() -> Any:
            return await waiting_for(uow_factory) == {}

        await eventually(none_waiting, timeout=30)
    assert len(await dead_letters(uow_factory, known.enterprise_id)) == 2
    for letter in letters:
        assert (letter["x-error-type"], letter["x-error-field"]) == ("PERIOD_CLOSED", "period")
        assert "2025 closed on 2026-03-31" in letter["x-error"]
    waited = await ledger.figures(Scope(enterprise_id=known.enterprise_id), "2025-01", "2025-12")
    assert waited.generated == D("2")


async def test_a_kafka_report_the_broker_took_by_the_close_is_booked_when_read_after_it(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Reports crowd in on the last day, and a consumer behind reads some after midnight:
    one the broker stamped (LogAppendTime, as the ingest topics are, and as its token is
    judged: decision 021) by the close is booked; one only its producer dated is judged when
    read, and parked."""
    sent_at = datetime.now(UTC)
    close = china_day(sent_at) + timedelta(days=1)
    if (close.month, close.day) == (2, 29):
        close += timedelta(days=1)
    year = close.year - 1  # the year that closes on `close`
    ledger = harness(uow_factory, YearClose(close.month, close.day))
    steel = await ledger.register("青山区")
    ledger.clock.fixed = sent_at + timedelta(days=3)  # read three days after
    consumer = build_consumer(ledger.service, ledger.uow, settings_for("127.0.0.1:1"))

    def record(event_id: str, offset: int, stamped_by: int) -> KeptRecord:
        value, key, token = signed_report(
            steel, "generation", event_id, tonnes="5", period=f"{year}-12"
        )
        return KeptRecord(
            "ingest.ledger-reports.v1",
            0,
            offset,
            key.encode(),
            value,
            (("authorization", f"Bearer {token}".encode()),),
            int(sent_at.timestamp() * 1000),
            stamped_by,
        )

    await consumer.handle_batch(
        [record("by-the-broker", 0, LOG_APPEND_TIME), record("by-its-producer", 1, 0)]
    )
    booked = await ledger.figures(
        Scope(enterprise_id=steel.enterprise_id), f"{year}-12", f"{year}-12"
    )
    assert booked.generated == D("5")
    [letter] = await dead_letters(uow_factory, steel.enterprise_id)
    assert (letter["x-error-type"], letter["x-original-offset"]) == ("PERIOD_CLOSED", "1")


def hazardous_stock(assessment: Any) -> str:
    [rule] = [r for r in assessment.results if r.key == "no-unmatched-hazardous-stock"]
    return str(rule.actual)


@pytest.mark.parametrize(
    ("received", "left_in_2026"),
    [("30.000", "0.000"), ("29.700", "0.000"), ("27.000", "3.000")],
    ids=["whole", "within-tolerance", "discrepancy"],
)
async def test_a_receipt_after_the_close_of_prior_year_stock_leaves_the_closed_verdict(
    ledger: Harness, received: str, left_in_2026: str
) -> None:
    """Old hazardous stock on the road at the close was moving at the close, at its
    dispatched weight: its receipt, booked to the month it came in, does not leave the
    closed year with that stock unmoved, whatever it weighed (nor the year it came in with
    it twice). A gap the receipt finds is the open year's to account for."""
    plant, incinerator = await ledger.register("青山区"), await ledger.register("新洲区")
    svc = ledger.service
    ledger.clock.fixed = CLOSE_DAY
    await svc.report(
        plant.enterprise_id,
        EntryKind.OPENING_STOCK,
        site_id=plant.site_id,
        waste_code="HW08",
        tonnes="30.000",
        period="2025-01",
    )
    match_id = await ledger.confirm(plant, incinerator, "30.000", code="HW08")
    ledger.clock.fixed = CLOSE_DAY
    sent = await svc.dispatch(
        plant.enterprise_id, match_id, "30.000", from_prior_stock=True, period="2025-12"
    )
    closed_year = await svc.assess(plant.enterprise_id, 2025)
    assert hazardous_stock(closed_year) == "0.000"  # moving at the close

    ledger.clock.fixed = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)
    await svc.receive(incinerator.enterprise_id, sent.id, received)
    after = await svc.assess(plant.enterprise_id, 2025)
    assert hazardous_stock(after) == "0.000"
    assert after == closed_year
    assert hazardous_stock(await svc.assess(plant.enterprise_id, 2026)) == left_in_2026
    if left_in_2026 != "0.000":  # the open year moves with its parties' word
        for party in (incinerator, plant):
            await svc.resolve_discrepancy(
                party.enterprise_id, sent.id, GapCause.MOISTURE_CHANGE, "dried on the road"
            )
        assert hazardous_stock(await svc.assess(plant.enterprise_id, 2026)) == "0.000"
        assert await svc.assess(plant.enterprise_id, 2025) == closed_year


async def test_opening_stock_due_in_a_closed_year_is_not_sent_there(ledger: Harness) -> None:
    """Opening stock goes with a month of the first year of the records (decision 035): when
    that year has closed, the refusal says it can no longer be declared, rather than sending
    the enterprise to a year that is refused PERIOD_CLOSED."""
    steel = await ledger.register("青山区")
    ledger.clock.fixed = CLOSE_DAY
    await report(ledger, steel, G, "10.000", "2025-06")
    ledger.clock.fixed = CLOSED
    svc = ledger.service

    def opening(period: str) -> Any:
        return svc.report(
            steel.enterprise_id,
            EntryKind.OPENING_STOCK,
            site_id=steel.site_id,
            waste_code="SW01",
            tonnes="5.000",
            period=period,
        )

    late = await refused("INVALID_PERIOD", opening("2026-04"))
    assert late.field == "period"
    assert "2025 closed on 2026-03-31" in late.message
    assert "declare it with a month of 2025" not in late.message
    await refused("PERIOD_CLOSED", opening("2025-12"))
    ledger.clock.fixed = CLOSE_DAY  # the day 2025 closes on, still open: sent there
    early = await refused("INVALID_PERIOD", opening("2026-01"))
    assert "declare it with a month of 2025 or earlier" in early.message


def rule(assessment: Any, key: str) -> Any:
    [found] = [r for r in assessment.results if r.key == key]
    return found


async def test_a_discrepancy_agreed_after_the_close_leaves_the_closed_verdict(
    ledger: Harness,
) -> None:
    """A closed year's verdict reads its manifests as at its close: a discrepancy open then
    (proposed, not agreed) stays open in it when its parties agree after the close, and its
    gap stays unaccounted; an open year's verdict moves with its parties' word."""
    steel, cement = await ledger.register("青山区"), await ledger.register("新洲区")
    svc, moisture = ledger.service, GapCause.MOISTURE_CHANGE
    ledger.clock.fixed = CLOSE_DAY
    await report(ledger, steel, G, "100.000", "2025-12")
    old_match = await ledger.confirm(steel, cement, "100.000")
    new_match = await ledger.confirm(steel, cement, "100.000")
    ledger.clock.fixed = CLOSE_DAY
    old = await svc.dispatch(steel.enterprise_id, old_match, "100.000", period="2025-12")
    await svc.receive(cement.enterprise_id, old.id, "95.000")  # 5 % off: a discrepancy
    await svc.resolve_discrepancy(cement.enterprise_id, old.id, moisture, "dried on the road")
    ledger.clock.fixed = AFTER
    await report(ledger, steel, G, "100.000", "2026-04")
    new = await svc.dispatch(steel.enterprise_id, new_match, "100.000", period="2026-04")
    await svc.receive(cement.enterprise_id, new.id, "95.000")
    await svc.resolve_discrepancy(cement.enterprise_id, new.id, moisture, "dried on the road")
    parties = (steel.enterprise_id, cement.enterprise_id)
    closed_year = [await svc.assess(party, 2025) for party in parties]
    open_year = await svc.assess(steel.enterprise_id, 2026)
    for verdict in (closed_year[0], open_year):
        assert rule(verdict, "no-open-discrepancies").actual == "1"
        assert rule(verdict, "generation-accounted").actual == "5.000"
    assert rule(closed_year[1], "no-open-discrepancies").actual == "1"

    for sent in (old, new):
        agreed = await svc.resolve_discrepancy(steel.enterprise_id, sent.id, moisture, "agreed")
        assert agreed.status is ManifestStatus.RESOLVED

    assert [await svc.assess(party, 2025) for party in parties] == closed_year
    moved = await svc.assess(steel.enterprise_id, 2026)
    assert rule(moved, "no-open-discrepancies").passed
    assert rule(moved, "generation-accounted").actual == "0.000"


async def test_a_carried_receipt_found_a_discrepancy_leaves_the_closed_verdict(
    ledger: Harness,
) -> None:
    """At its year's close a carried shipment was on the road at its dispatched weight: a
    discrepancy its receipt finds after the close, and what its parties agree of it, are
    facts of the year it came in (open until agreed there), not of the closed year's
    verdict."""
    steel, cement, sent = await sent_on_the_close_day(ledger)
    svc = ledger.service
    ledger.clock.fixed = CLOSED
    parties = (steel.enterprise_id, cement.enterprise_id)
    closed_year = [await svc.assess(party, 2025) for party in parties]
    assert rule(closed_year[0], "generation-accounted").actual == "0.000"
    assert rule(closed_year[0], "no-open-discrepancies").passed

    ledger.clock.fixed = AFTER
    got = await svc.receive(cement.enterprise_id, sent.id, "90.000")  # 10 % short
    assert got.status is ManifestStatus.DISCREPANCY
    assert [await svc.assess(party, 2025) for party in parties] == closed_year
    # The year it came in, and its entries were booked to, has it open until agreed.
    for party in parties:
        assert rule(await svc.assess(party, 2026), "no-open-discrepancies").actual == "1"
    for named_by in (cement, steel):
        await svc.resolve_discrepancy(
            named_by.enterprise_id, sent.id, GapCause.LOSS_IN_TRANSIT, "spilt at a crossing"
        )
    assert [await svc.assess(party, 2025) for party in parties] == closed_year
    for party in parties:
        assert rule(await svc.assess(party, 2026), "no-open-discrepancies").passed
