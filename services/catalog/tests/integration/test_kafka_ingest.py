"""Kafka ingest on the real broker: the whole catalog service runs (migrations, consumers,
outbox relay) while the factories' systems post to `ingest.offers.v1` / `ingest.demands.v1`.

Good messages are stored exactly once however often they are delivered; poison never stalls
the partition and lands in `catalog.dlq.v1` with `x-error` and `x-error-type`.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from wastex_catalog.service import aggregate_id
from wastex_catalog.settings import CatalogSettings
from wastex_catalog.testing import (
    ADMIN,
    DATES,
    OFFER,
    WINDOW,
    Api,
    envelope_json,
    running_catalog,
    token,
)
from wastex_shared.auth import JwtConfig, Role, issue_token
from wastex_shared.calendar import china_today
from wastex_shared.envelope import Envelope
from wastex_shared.messaging.topic_reader import read_topic
from wastex_shared.topics import CATALOG_DLQ, CATALOG_OFFER_POSTED, INGEST_DEMANDS, INGEST_OFFERS

JWT = JwtConfig()
COUNTS = """
query($enterpriseId: ID!) {
  offers(filter: {enterpriseId: $enterpriseId}, first: 1) { totalCount }
  demands(filter: {enterpriseId: $enterpriseId}, first: 1) { totalCount }
}"""
WITHDRAWN = """
query($enterpriseId: ID!) {
  offers(filter: {enterpriseId: $enterpriseId, status: WITHDRAWN}, first: 1) { totalCount }
}"""

OFFER_DATA = {
    "wasteCode": "SW01",
    "quantityTonnes": "12.250",
    # From the first of next month for two months (the catalog refuses a window over).
    **dict(zip(("availableFrom", "availableUntil"), DATES.window(2), strict=True)),
    "description": "BOF steel slag via MES",
}
DEMAND_DATA = {
    "wasteCodes": ["SW01", "SW02"],
    "quantityTonnes": "40.000",
    "maxDistanceKm": "60",
    **WINDOW,
}


@dataclass(frozen=True)
class Message:
    topic: str
    key: str
    value: bytes
    headers: list[tuple[str, bytes]]
    #: The dead-letter reason expected, None for a good message.
    poison: str | None = None


@dataclass(frozen=True)
class Party:
    enterprise: str
    site: str

    @property
    def auth(self) -> list[tuple[str, bytes]]:
        return [("authorization", f"Bearer {token(Role.ENTERPRISE, self.enterprise)}".encode())]

    def offer(self, poison: str | None = None, **changes: Any) -> Message:
        data = {"siteId": self.site, **OFFER_DATA, **changes}
        value = envelope_json("wastex.offer.submit", self.enterprise, data)
        return Message(INGEST_OFFERS.name, self.enterprise, value, self.auth, poison)

    def demand(self, poison: str | None = None, **changes: Any) -> Message:
        value = envelope_json(
            "wastex.demand.submit",
            self.enterprise,
            {"siteId": self.site, **DEMAND_DATA, **changes},
        )
        return Message(INGEST_DEMANDS.name, self.enterprise, value, self.auth, poison)

    def withdraw(self, offer_id: str) -> Message:
        value = envelope_json("wastex.offer.withdraw", self.enterprise, {"id": offer_id})
        return Message(INGEST_OFFERS.name, self.enterprise, value, self.auth)


def ingest_settings(database_url: str, kafka_bootstrap: str, data_dir: Path) -> CatalogSettings:
    # Small batches: each commit shows progress, so a slow (loaded) machine is told apart
    # from a stuck consumer. Production batches 500.
    return CatalogSettings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        data_dir=data_dir,
        consumer_batch_size=50,
    )


async def setup_party(api: Api, name: str, kind: str, district: str) -> Party:
    enterprise = await api.register_enterprise(name, kind, district)
    return Party(enterprise, await api.add_site(enterprise, district))


def poison_messages(steel: Party, foundry: Party, count: int) -> list[Message]:
    """`count` poison messages cycling through every kind of fault the ingest must survive."""
    kinds = [
        lambda: Message(
            INGEST_OFFERS.name,
            steel.enterprise,
            b'{"specversion": "1.0", "id": ',
            steel.auth,
            "INVALID_ENVELOPE",
        ),
        lambda: steel.offer("UNKNOWN_WASTE_CODE", wasteCode="XX99"),
        # Refused as over GraphQL, with the same code (not a schema's length limit).
        lambda: steel.offer("UNKNOWN_WASTE_CODE", wasteCode="HW49 900-041-49"),
        lambda: steel.offer("SCHEMA_INVALID", availableFrom=1798761600),  # a Unix timestamp
        lambda: steel.offer("INVALID_ENVELOPE", description="slag\x00"),  # PostgreSQL text
        lambda: steel.offer("ABOLISHED_WASTE_CODE", wasteCode="HW41"),
        lambda: foundry.offer("INVALID_QUANTITY", quantityTonnes="-5.000"),
        # steel's system claims to be the foundry: the token says otherwise.
        lambda: Message(
            INGEST_OFFERS.name,
            steel.enterprise,
            envelope_json(
                "wastex.offer.submit", foundry.enterprise, {"siteId": foundry.site, **OFFER_DATA}
            ),
            steel.auth,
            "FORGED_SOURCE",
        ),
        lambda: Message(
            INGEST_OFFERS.name,
            foundry.enterprise,
            envelope_json(
                "wastex.offer.submit", foundry.enterprise, {"siteId": foundry.site, **OFFER_DATA}
            ),
            [],
            "UNAUTHENTICATED",
        ),
        lambda: steel.offer("SCHEMA_INVALID", colour="grey"),
    ]
    return [kinds[i % len(kinds)]() for i in range(count)]


async def produce(bootstrap: str, messages: list[Message]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(m.topic, m.value, key=m.key.encode(), headers=m.headers)
            for m in messages
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def wait_for_counts(
    api: Api, wanted: dict[str, tuple[int, int]], stall_timeout: float = 120.0
) -> None:
    """Poll the stored counts until they are `wanted`; fail once they stop moving for
    `stall_timeout` seconds (a loaded machine is slow, a stuck consumer makes no progress)."""
    admin = api.as_(ADMIN)
    found: dict[str, tuple[int, int]] = {}
    loop = asyncio.get_running_loop()
    last_change = loop.time()
    while True:
        previous = dict(found)
        for enterprise in wanted:
            data = await admin.data(COUNTS, enterpriseId=enterprise)
            found[enterprise] = (data["offers"]["totalCount"], data["demands"]["totalCount"])
        if found == wanted:
            return
        if found != previous:
            last_change = loop.time()
        elif loop.time() - last_change > stall_timeout:
            raise AssertionError(f"stored {found}, expected {wanted}; no progress for a while")
        await asyncio.sleep(0.5)


async def dead_letters(bootstrap: str, keys: set[str], expected: int, timeout: float) -> list[Any]:
    """This test's records in catalog.dlq.v1 (by key), one per original position."""
    found: dict[tuple[str, str, str], Any] = {}
    async with asyncio.timeout(timeout):
        while True:
            async for record in read_topic(bootstrap, CATALOG_DLQ.name):
                if record.key is not None and record.key.decode() in keys:
                    headers = {k: v.decode() for k, v in record.headers}
                    position = (
                        headers["x-original-topic"],
                        headers["x-original-partition"],
                        headers["x-original-offset"],
                    )
                    found[position] = record
            if len(found) >= expected:
                return list(found.values())
            await asyncio.sleep(0.5)


async def test_a_thousand_ingest_messages_with_poison_and_duplicates_store_each_good_one_once(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    rng = random.Random(20261125)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Ingest Steel", "FACTORY", "青山区")
        foundry = await setup_party(api, "Ingest Foundry", "FACTORY", "汉阳区")
        cement = await setup_party(api, "Ingest Cement", "RECYCLER", "江夏区")
        await api.register_licence(cement.enterprise, ["SW01", "SW02"])
        posted_by_graphql = [await api.post_offer(steel.enterprise, steel.site) for _ in range(10)]

        good = (
            [steel.offer(description=None if i % 2 else "granulated") for i in range(400)]
            + [foundry.offer(quantityTonnes=f"{i + 1}.125") for i in range(390)]
            + [cement.demand() for _ in range(150)]
            + [steel.withdraw(offer_id) for offer_id in posted_by_graphql]
        )
        poison = poison_messages(steel, foundry, 50)
        messages = good + poison
        rng.shuffle(messages)
        assert len(messages) == 1000
        duplicates = rng.sample(good, 40)  # redelivered as-is: same source and id
        await produce(kafka_bootstrap, messages + duplicates)

        await wait_for_counts(
            api,
            {steel.enterprise: (410, 0), foundry.enterprise: (390, 0), cement.enterprise: (0, 150)},
        )
        withdrawn = await api.as_(ADMIN).data(WITHDRAWN, enterpriseId=steel.enterprise)
        assert withdrawn["offers"]["totalCount"] == 10

        parked = await dead_letters(
            kafka_bootstrap,
            {steel.enterprise, foundry.enterprise, cement.enterprise},
            expected=len(poison),
            timeout=120,
        )
        reasons = Counter(dict(r.headers)["x-error-type"].decode() for r in parked)
        assert reasons == Counter(m.poison for m in poison)
        for record in parked:
            headers = dict(record.headers)
            assert headers["x-error"].decode()
            assert headers["x-original-topic"].decode() in {INGEST_OFFERS.name, INGEST_DEMANDS.name}
            assert "authorization" not in {k.lower() for k in headers}  # no token kept
        forged = [r for r in parked if dict(r.headers)["x-error-type"] == b"FORGED_SOURCE"]
        assert b"is not the token's enterprise" in dict(forged[0].headers)["x-error"]
        assert all("x-authenticated-source" not in dict(r.headers) for r in forged)
        refused = [r for r in parked if dict(r.headers)["x-error-type"] == b"UNKNOWN_WASTE_CODE"]
        assert refused
        assert {json.loads(r.value)["source"] for r in refused} == {
            dict(r.headers)["x-authenticated-source"].decode() for r in refused
        }

    # Each stored offer left one offer-posted fact, whatever the redeliveries.
    mine = {steel.enterprise, foundry.enterprise}
    facts: dict[str, str] = {}
    async for record in read_topic(kafka_bootstrap, CATALOG_OFFER_POSTED.name):
        event = json.loads(record.value)
        if event["data"]["enterpriseId"] in mine:
            facts[event["id"]] = event["data"]["offerId"]
    assert len(facts) == len(set(facts.values())) == 800


async def test_the_same_id_from_another_source_is_another_message(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Dedupe Steel", "FACTORY", "青山区")
        foundry = await setup_party(api, "Dedupe Foundry", "FACTORY", "汉阳区")
        shared_id = str(uuid.uuid4())
        messages = [
            Message(
                INGEST_OFFERS.name,
                party.enterprise,
                envelope_json(
                    "wastex.offer.submit",
                    party.enterprise,
                    {"siteId": party.site, **OFFER_DATA},
                    event_id=shared_id,
                ),
                party.auth,
            )
            for party in (steel, foundry, steel)
        ]
        await produce(kafka_bootstrap, messages)
        await wait_for_counts(api, {steel.enterprise: (1, 0), foundry.enterprise: (1, 0)})


async def test_withdrawing_another_enterprises_offer_over_kafka_is_dead_lettered(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Victim Steel", "FACTORY", "青山区")
        foundry = await setup_party(api, "Rogue Foundry", "FACTORY", "汉阳区")
        offer = await api.post_offer(steel.enterprise, steel.site)
        await produce(kafka_bootstrap, [foundry.withdraw(offer)])
        parked = await dead_letters(kafka_bootstrap, {foundry.enterprise}, 1, timeout=120)
        assert dict(parked[0].headers)["x-error-type"] == b"NOT_AUTHORIZED"
        still = await api.as_(ADMIN).data(WITHDRAWN, enterpriseId=steel.enterprise)
        assert still["offers"]["totalCount"] == 0


async def test_an_offer_posted_and_withdrawn_in_one_batch_is_withdrawn(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """Offers posted over Kafka are written with the batch's other rows at the end; the
    withdrawal right behind it in the same batch must still find the offer."""
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Hasty Steel", "FACTORY", "青山区")
        posting = steel.offer()
        offer_id = aggregate_id("offer", Envelope.from_json(posting.value))
        await produce(kafka_bootstrap, [posting, steel.withdraw(offer_id)])
        admin = api.as_(ADMIN)
        async with asyncio.timeout(60):
            while (await admin.data(WITHDRAWN, enterpriseId=steel.enterprise))["offers"][
                "totalCount"
            ] != 1:
                await asyncio.sleep(0.2)


LICENSING = "query($id: ID!) { demand(id: $id) { status licensedUntil awaitsRenewalUntil } }"


async def test_a_demand_over_kafka_may_run_past_its_licence_not_start_past_it(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """The posting rule over GraphQL holds over Kafka (decision 034, later): a window whose
    first day the licence covers is stored, waiting from the licence's end for a renewal;
    one starting after it is parked with GraphQL's code and field."""
    today = china_today()

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        cement = await setup_party(api, "Yearly Cement", "RECYCLER", "江夏区")
        await api.register_licence(cement.enterprise, ["SW01", "SW02"], day(-30), day(10))
        past = cement.demand(availableFrom=day(1), availableUntil=day(60))
        late = cement.demand("LICENCE_EXPIRED", availableFrom=day(11), availableUntil=day(60))
        await produce(kafka_bootstrap, [late, past])
        [parked] = await dead_letters(kafka_bootstrap, {cement.enterprise}, 1, timeout=60)
        headers = dict(parked.headers)
        assert (headers["x-error-type"], headers.get("x-error-field")) == (
            b"LICENCE_EXPIRED",
            b"wasteCodes",
        )
        demand = aggregate_id("demand", Envelope.from_json(past.value))
        async with asyncio.timeout(60):
            while (await stored_counts(api, cement.enterprise))[1] != 1:
                await asyncio.sleep(0.2)
        found = (await api.tenant(cement.enterprise).data(LICENSING, id=demand))["demand"]
        assert (found["status"], found["licensedUntil"], found["awaitsRenewalUntil"]) == (
            "OPEN",
            day(10),
            day(17),
        )


async def stored_counts(api: Api, enterprise: str) -> tuple[int, int]:
    data = await api.as_(ADMIN).data(COUNTS, enterpriseId=enterprise)
    return data["offers"]["totalCount"], data["demands"]["totalCount"]


async def after_the_last(api: Api, last: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """The stored counts once each enterprise's last (good) message is in: at least `last`.
    Each enterprise's messages share a key, so its earlier ones were read before."""
    async with asyncio.timeout(120):
        while True:
            found = {e: await stored_counts(api, e) for e in last}
            if all(all(f >= w for f, w in zip(found[e], last[e], strict=True)) for e in last):
                return found
            await asyncio.sleep(0.3)


async def test_numbers_written_with_digit_groups_or_other_digits_are_parked_as_over_graphql(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """GraphQL's Decimal refuses "1_000" and full-width "１２" (Python reads 1000 and 12); the
    ingest model turned them into numbers before the domain's parser could refuse them, so
    a factory's typo was stored as a quantity nobody wrote."""
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Grouped Steel", "FACTORY", "青山区")
        cement = await setup_party(api, "Grouped Cement", "RECYCLER", "江夏区")
        await api.register_licence(cement.enterprise, ["SW01", "SW02"])

        def demand(**changes: Any) -> Message:
            data = {"siteId": cement.site, **DEMAND_DATA, **changes}
            value = envelope_json("wastex.demand.submit", cement.enterprise, data)
            return Message(INGEST_DEMANDS.name, cement.enterprise, value, cement.auth)

        await produce(
            kafka_bootstrap,
            [
                steel.offer(quantityTonnes="1_000"),
                steel.offer(quantityTonnes="１２"),
                steel.offer(moisturePercent="1_2"),
                demand(maxDistanceKm="６0"),
                steel.offer(),
                demand(),
            ],
        )
        stored = await after_the_last(api, {steel.enterprise: (1, 0), cement.enterprise: (0, 1)})
        assert stored == {steel.enterprise: (1, 0), cement.enterprise: (0, 1)}
        parked = await dead_letters(
            kafka_bootstrap, {steel.enterprise, cement.enterprise}, expected=4, timeout=60
        )
        assert {dict(r.headers)["x-error-type"] for r in parked} == {b"SCHEMA_INVALID"}
        assert all(b"ASCII digits" in dict(r.headers)["x-error"] for r in parked)


async def test_a_date_is_taken_only_as_written_yyyy_mm_dd(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """pydantic reads a Unix timestamp sent as text ("1798761600") and a midnight datetime
    as a day; a factory's system sending either had it stored as some day it never wrote
    (GraphQL's Date takes neither)."""
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Stamped Steel", "FACTORY", "青山区")
        await produce(
            kafka_bootstrap,
            [
                steel.offer(availableFrom="1798761600"),  # 2027-01-01, as text
                steel.offer(availableUntil="2027-01-31T00:00:00Z"),
                steel.offer(availableUntil="2027-01-31T00:00:00"),
                steel.offer(),
            ],
        )
        stored = await after_the_last(api, {steel.enterprise: (1, 0)})
        assert stored == {steel.enterprise: (1, 0)}
        parked = await dead_letters(kafka_bootstrap, {steel.enterprise}, expected=3, timeout=60)
        assert {dict(r.headers)["x-error-type"] for r in parked} == {b"SCHEMA_INVALID"}
        assert all(b"YYYY-MM-DD" in dict(r.headers)["x-error"] for r in parked)


async def test_a_command_sent_to_another_services_ingest_topic_is_parked_as_misrouted(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """A ledger report sent to `ingest.offers.v1` was parked as an event type the catalog
    does not know (UNKNOWN_EVENT_TYPE, which an upgrade may fix and re-driving retries): it
    is a known type on the wrong topic, and the letter says which topic it belongs on."""
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Misrouting Steel", "FACTORY", "青山区")
        report = {"siteId": steel.site, "wasteCode": "SW01", "tonnes": "5", "period": "2026-11"}
        misrouted = Message(
            INGEST_OFFERS.name,
            steel.enterprise,
            envelope_json("wastex.report.generation", steel.enterprise, report),
            steel.auth,
        )
        await produce(kafka_bootstrap, [misrouted])
        parked = await dead_letters(kafka_bootstrap, {steel.enterprise}, expected=1, timeout=60)
        headers = dict(parked[0].headers)
        assert headers["x-error-type"] == b"WRONG_TOPIC"
        assert b"belongs on ingest.ledger-reports.v1" in headers["x-error"]
        assert headers["x-authenticated-source"] == steel.enterprise.encode()


async def test_a_dead_letter_names_the_field_a_rule_refused_as_user_errors_do(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """GraphQL's userErrors name the input field at fault; a dead letter said only the code
    and the message, and "Decimal('1E+8') is out of range" (INVALID_PROPERTY) does not say
    whether the moisture or the particle size was refused."""
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Measured Steel", "FACTORY", "青山区")
        await produce(
            kafka_bootstrap,
            [steel.offer(particleSizeMm="100000000"), steel.withdraw(str(uuid.uuid4()))],
        )
        parked = await dead_letters(kafka_bootstrap, {steel.enterprise}, expected=2, timeout=60)
        fields = {
            dict(r.headers)["x-error-type"]: dict(r.headers).get("x-error-field") for r in parked
        }
        assert fields == {b"INVALID_PROPERTY": b"particleSizeMm", b"NOT_FOUND": b"id"}


async def test_a_dead_letter_names_the_field_its_schema_refused_in_the_senders_words(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """A message whose `data` does not fit its schema was parked SCHEMA_INVALID without
    `x-error-field`, though the error named the field, and a number of the wrong type read
    "Decimal input should be an integer, float, string or Decimal object" (Python's types,
    not what to write). The field is named as the input spells it (a list's item by the
    list, as userErrors name `wasteCodes`), and a number says how one is written."""
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Schematic Steel", "FACTORY", "青山区")
        cement = await setup_party(api, "Schematic Cement", "RECYCLER", "江夏区")
        await produce(
            kafka_bootstrap,
            [
                steel.offer(colour="grey"),
                steel.offer(quantityTonnes=True),
                steel.offer(moisturePercent="twelve"),
                steel.offer(availableFrom=1798761600),
                cement.demand(wasteCodes=["SW01", 5]),
            ],
        )
        parked = await dead_letters(
            kafka_bootstrap, {steel.enterprise, cement.enterprise}, expected=5, timeout=60
        )
        letters = {
            dict(r.headers)["x-error-field"].decode(): dict(r.headers)["x-error"].decode()
            for r in parked
            if dict(r.headers)["x-error-type"] == b"SCHEMA_INVALID"
            and "x-error-field" in dict(r.headers)
        }
        assert sorted(letters) == [
            "availableFrom",
            "colour",
            "moisturePercent",
            "quantityTonnes",
            "wasteCodes",
        ]
        written = 'A number is written in ASCII digits, without digit groups, e.g. "120.500".'
        assert letters["quantityTonnes"] == f"quantityTonnes: {written}"
        assert letters["moisturePercent"] == f"moisturePercent: {written}"
        day = 'a day is written YYYY-MM-DD, e.g. "2026-12-01"'
        assert letters["availableFrom"] == f"availableFrom: {day}"
        assert not any("Decimal" in m or "Value error" in m for m in letters.values())


async def test_an_envelope_without_time_is_taken_as_cloudevents_allows(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """CloudEvents 1.0 requires `specversion`, `id`, `source` and `type`; `time` is optional,
    and nothing of an ingest command reads it. A factory's message without one was parked
    as INVALID_ENVELOPE."""
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Timeless Steel", "FACTORY", "青山区")
        posting = steel.offer()
        body = json.loads(posting.value)
        del body["time"]
        timeless = Message(posting.topic, posting.key, json.dumps(body).encode(), posting.headers)
        last = steel.offer()
        await produce(kafka_bootstrap, [timeless, last])
        last_id = aggregate_id("offer", Envelope.from_json(last.value))
        async with asyncio.timeout(60):  # read after the first (one key, one partition)
            while (await api.as_(ADMIN).execute(OFFER, id=last_id)).get("errors"):
                await asyncio.sleep(0.3)
        assert await stored_counts(api, steel.enterprise) == (2, 0)


async def test_a_copy_of_a_handled_message_read_after_its_token_expired_is_a_duplicate(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """The same id is handled once. A copy of a handled message read after its short-lived
    token expired (a producer's retry, a group re-reading its topic) was checked for its
    token before the inbox and parked as UNAUTHENTICATED: a dead letter for something done,
    which no re-drive can sign for."""
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Retrying Steel", "FACTORY", "青山区")
        brief = issue_token(JWT, Role.ENTERPRISE, steel.enterprise, ttl=timedelta(seconds=3))
        auth = [("authorization", f"Bearer {brief}".encode())]
        posting = steel.offer()
        posting = Message(posting.topic, posting.key, posting.value, auth)
        await produce(kafka_bootstrap, [posting])
        await after_the_last(api, {steel.enterprise: (1, 0)})
        await asyncio.sleep(3.5)  # the token has expired
        await produce(kafka_bootstrap, [posting, steel.offer(colour="grey")])
        parked = await dead_letters(kafka_bootstrap, {steel.enterprise}, expected=1, timeout=60)
        await asyncio.sleep(2)  # a letter for the copy would be written with the poison's
        parked = await dead_letters(kafka_bootstrap, {steel.enterprise}, expected=1, timeout=60)
        assert [dict(r.headers)["x-error-type"] for r in parked] == [b"SCHEMA_INVALID"]
        assert await stored_counts(api, steel.enterprise) == (1, 0)


async def test_a_withdrawal_sent_again_under_a_new_id_is_done_not_parked(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """A factory's system re-sends its state under new message ids; an amendment that
    changes nothing is done, not dead-lettered, but a withdrawal of a listing already
    withdrawn was parked as INVALID_TRANSITION each time. Withdrawing one that is gone
    otherwise (expired, fully matched) is still refused."""
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Resending Steel", "FACTORY", "青山区")
        offer = await api.post_offer(steel.enterprise, steel.site)
        await produce(
            kafka_bootstrap,
            [steel.withdraw(offer), steel.withdraw(offer), steel.offer(colour="grey")],
        )
        parked = await dead_letters(kafka_bootstrap, {steel.enterprise}, expected=1, timeout=60)
        await asyncio.sleep(2)  # a letter for the second withdrawal comes before the poison's
        parked = await dead_letters(kafka_bootstrap, {steel.enterprise}, expected=1, timeout=60)
        assert [dict(r.headers)["x-error-type"] for r in parked] == [b"SCHEMA_INVALID"]
        withdrawn = await api.as_(ADMIN).data(WITHDRAWN, enterpriseId=steel.enterprise)
        assert withdrawn["offers"]["totalCount"] == 1


async def test_the_token_is_read_whatever_the_case_of_its_header_name(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """A factory's system writing `Authorization` (HTTP's header names are case-insensitive,
    and the GraphQL examples write it so) had every message parked UNAUTHENTICATED, its
    token dropped from the letter so that no re-drive could sign for it. Two such headers
    that differ are refused, not chosen between."""
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Capital Steel", "FACTORY", "青山区")
        ((_, value),) = steel.auth
        other = f"Bearer {token(Role.ENTERPRISE, str(uuid.uuid4()))}".encode()

        def sent_with(headers: list[tuple[str, bytes]]) -> Message:
            posting = steel.offer()
            return Message(posting.topic, posting.key, posting.value, headers)

        await produce(
            kafka_bootstrap,
            [
                sent_with([("Authorization", value)]),
                sent_with([("AUTHORIZATION", value), ("authorization", b"")]),
                sent_with([("Authorization", value), ("authorization", other)]),
                sent_with([("authorization", value), ("Authorization", value)]),
            ],
        )
        parked = await dead_letters(kafka_bootstrap, {steel.enterprise}, expected=1, timeout=60)
        assert dict(parked[0].headers)["x-error-type"] == b"UNAUTHENTICATED"
        assert b"more than one authorization header" in dict(parked[0].headers)["x-error"]
        assert await after_the_last(api, {steel.enterprise: (3, 0)}) == {steel.enterprise: (3, 0)}


async def test_a_message_of_zero_bytes_is_parked_as_empty(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """A value of zero bytes is as empty as no value: it was parked INVALID_ENVELOPE with
    "Invalid JSON: EOF while parsing", where the contract names EMPTY_MESSAGE."""
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Silent Steel", "FACTORY", "青山区")
        empty = Message(INGEST_OFFERS.name, steel.enterprise, b"", steel.auth)
        await produce(kafka_bootstrap, [empty])
        [parked] = await dead_letters(kafka_bootstrap, {steel.enterprise}, expected=1, timeout=60)
        assert dict(parked.headers)["x-error-type"] == b"EMPTY_MESSAGE"
