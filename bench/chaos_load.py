"""The load generator: a steady stream of offers, demands, ledger reports (over Kafka and
GraphQL), match acceptances and shipments, with its own record of everything it sent.

The record is what the checks hold the services to: every offer, demand and report the
generator made must exist exactly once, every deal it closed must be one match, one
manifest and two transfer entries, and its tonnes give the expected ledger figures.

Each party (enterprise) acts in sequence, so its ledger reports reach the ledger in the
order it made them; a factory sends its reports over one channel only (Kafka or GraphQL).
Uses are never reported beyond what was generated (the ledger would refuse them, rightly):
the generator keeps a balance per enterprise, waste code and month, counting a use as soon
as it is sent and a generation only once it is known to be booked (or queued on Kafka in
front of the uses that depend on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench.chaos_api import (
    ACCEPT_MATCH,
    DISPATCH,
    MANIFESTS,
    POST_DEMAND,
    POST_OFFER,
    RECEIVE,
    REPORT,
    REPORT_MUTATIONS,
    Ambiguous,
    Api,
    Applied,
    NotApplied,
    Outcome,
)
from bench.chaos_city import CODES, City, Party
from bench.chaos_kafka import Producer
from wastex_catalog.service import aggregate_id
from wastex_shared.calendar import china_today
from wastex_shared.envelope import Envelope, utcnow
from wastex_shared.topics import INGEST_DEMANDS, INGEST_LEDGER_REPORTS, INGEST_OFFERS

Q = Decimal("0.001")
USE_TYPES = (
    "wastex.report.in-plant-utilisation",
    "wastex.report.storage",
    "wastex.report.disposal",
)
ENTRY_KIND = {
    "wastex.report.generation": "GENERATED",
    "wastex.report.in-plant-utilisation": "UTILISED_IN_PLANT",
    "wastex.report.storage": "STORED",
    "wastex.report.disposal": "DISPOSED",
}

MATCH = """
query($id: ID!) { match(id: $id) { id status tonnes wasteCode offer { id } } }"""
PROPOSED = """
query($filter: MatchFilter) {
  matches(filter: $filter, first: 50) {
    edges { node { id status tonnes wasteCode offer { id } demand { id } } }
  }
}"""


@dataclass
class Sent:
    """One thing the generator made (or tried to), and what became of it."""

    key: str
    kind: str  # offer | demand | report
    channel: str  # kafka | graphql
    party_id: str
    event_type: str
    tonnes: Decimal
    code: str | None = None
    period: str | None = None
    site_id: str | None = None
    #: acked (Kafka took it) | applied | rejected (userErrors) | not_applied | ambiguous
    outcome: str = "pending"
    event_id: str | None = None  # the envelope id (Kafka)
    entity_id: str | None = None  # offer / demand / entry id (GraphQL)
    detail: str = ""
    sent_at: float = 0.0
    #: For an ambiguous GraphQL call, what the look-up afterwards found.
    resolution: str | None = None

    @property
    def made(self) -> bool:
        """Must exist exactly once in the end."""
        return self.outcome in ("acked", "applied") or self.resolution in ("present", "resent")

    @property
    def must_not_exist(self) -> bool:
        return self.outcome in ("rejected", "not_applied") or self.resolution == "absent"


@dataclass
class Deal:
    """One proposed match the generator drives to a received shipment."""

    match_id: str
    offer_id: str
    supplier_id: str
    recycler_id: str
    code: str
    tonnes: Decimal
    status: str = "PROPOSED"
    manifest_id: str | None = None
    period: str | None = None
    dispatched: Decimal | None = None
    received: Decimal | None = None
    accepted_by_us: bool = False
    done: bool = False
    abandoned: str | None = None
    actions: Counter[str] = field(default_factory=Counter)


@dataclass
class Balance:
    generated: Decimal = Decimal("0.000")
    used: Decimal = Decimal("0.000")
    reserved: Decimal = Decimal("0.000")

    @property
    def free(self) -> Decimal:
        return self.generated - self.used - self.reserved


@dataclass
class Record:
    sent: list[Sent] = field(default_factory=list)
    deals: dict[str, Deal] = field(default_factory=dict)
    balances: dict[tuple[str, str, str], Balance] = field(default_factory=dict)
    graphql_outcomes: Counter[str] = field(default_factory=Counter)

    def balance(self, party: str, code: str, period: str) -> Balance:
        return self.balances.setdefault((party, code, period), Balance())

    def summary(self) -> dict[str, Any]:
        by: Counter[str] = Counter()
        for s in self.sent:
            by[f"{s.kind}.{s.channel}.{s.outcome}"] += 1
        deals = list(self.deals.values())
        return {
            "messages_sent": len(self.sent),
            "made": sum(1 for s in self.sent if s.made),
            "by_kind_channel_outcome": dict(sorted(by.items())),
            "ambiguous_resolved": dict(Counter(s.resolution for s in self.sent if s.resolution)),
            "deals": {
                "started": len(deals),
                "received": sum(1 for d in deals if d.received is not None),
                "confirmed_not_shipped": sum(
                    1 for d in deals if d.status == "CONFIRMED" and d.received is None
                ),
                "abandoned": dict(Counter(d.abandoned for d in deals if d.abandoned)),
                "actions": dict(sum((d.actions for d in deals), Counter())),
            },
            "graphql_outcomes": dict(self.graphql_outcomes),
        }


def ingest_message(
    event_type: str, source: str, data: dict[str, Any], event_id: str | None = None
) -> tuple[str, bytes]:
    event_id = event_id or str(uuid.uuid4())
    body = {
        "specversion": "1.0",
        "id": event_id,
        "type": event_type,
        "source": source,
        "time": utcnow().isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    return event_id, json.dumps(body).encode()


def auth_header(token: str) -> list[tuple[str, bytes]]:
    return [("authorization", f"Bearer {token}".encode())]


class LoadGenerator:
    def __init__(
        self,
        api: Api,
        city: City,
        producer: Producer,
        rate: float = 20.0,
        seed: int = 8,
        max_deals: int = 40,
        max_active_deals: int = 4,
        max_offers: int = 250,
    ) -> None:
        self.api = api
        self.city = city
        self.producer = producer
        self.rate = rate
        self.random = random.Random(seed)
        self.max_deals = max_deals
        self.max_active_deals = max_active_deals
        #: Offers stay on the market (and in every re-optimisation) for the whole run, so
        #: their number is capped; after that the factories only report.
        self.max_offers = max_offers
        self.record = Record()
        self._seq = 0
        self._counters: dict[tuple[str, ...], int] = {}
        self.offers_posted = 0
        self._stop = asyncio.Event()
        self.started_at = 0.0
        self.stopped_at = 0.0

    # -- set-up ------------------------------------------------------------------------

    async def seed_generation(self, tonnes: Decimal = Decimal("4000.000")) -> None:
        """Each factory reports generous generation per code and month over GraphQL first,
        so shipments and uses sent later always balance."""
        for party in self.city.factories:
            for code in CODES:
                for period in self.city.periods:
                    amount = tonnes + self._distinct_tonnes(
                        (party.id, "wastex.report.generation", code, period), 5, 25_000
                    )
                    sent = Sent(
                        key=self._key(),
                        kind="report",
                        channel="graphql",
                        party_id=party.id,
                        event_type="wastex.report.generation",
                        tonnes=amount,
                        code=code,
                        period=period,
                        site_id=party.site_id,
                    )
                    await self._report_graphql(party, sent, must=True)

    # -- the run -----------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    async def run(self, duration: float) -> None:
        """Generate load for `duration` seconds (or until `stop()`), then return."""
        self._stop = asyncio.Event()
        self.started_at = time.monotonic()
        workers = [
            asyncio.create_task(self._factory_worker(p), name=f"load-{p.name}")
            for p in self.city.factories
        ]
        workers += [
            asyncio.create_task(self._recycler_worker(p), name=f"load-{p.name}")
            for p in self.city.recyclers
        ]
        workers.append(asyncio.create_task(self._deal_driver(), name="load-deals"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), duration)
        self._stop.set()
        await asyncio.gather(*workers)
        self.stopped_at = time.monotonic()

    async def finish_deals(self, timeout: float = 60.0) -> None:
        """After the load: drive deals already accepted to their receipt (no new ones)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            open_deals = [d for d in self.record.deals.values() if not d.done]
            if not open_deals:
                return
            for deal in open_deals:
                await self._step(deal)
            await asyncio.sleep(0.3)

    async def _paced(self, per_second: float) -> bool:
        """Sleep one interval; False once the run is over."""
        delay = self.random.expovariate(per_second) if per_second > 0 else 1.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)
        return not self._stop.is_set()

    async def _factory_worker(self, party: Party) -> None:
        per_party = self.rate * 0.9 / max(1, len(self.city.factories))
        while await self._paced(per_party):
            try:
                if self.random.random() < 0.45 and self.offers_posted < self.max_offers:
                    await self._offer(party)
                else:
                    await self._report(party)
            except Exception as exc:  # a load worker must outlive any single failure
                self.record.graphql_outcomes[f"worker_error:{type(exc).__name__}"] += 1

    async def _recycler_worker(self, party: Party) -> None:
        per_party = self.rate * 0.1 / max(1, len(self.city.recyclers)) * 0.2
        while await self._paced(per_party):
            try:
                await self._demand(party)
            except Exception as exc:
                self.record.graphql_outcomes[f"worker_error:{type(exc).__name__}"] += 1

    # -- offers and demands ----------------------------------------------------------

    def _key(self) -> str:
        self._seq += 1
        return f"cx{self._seq:06d}-{uuid.uuid4().hex[:8]}"

    def _unique_fraction(self) -> Decimal:
        """A run-wide distinct number of kilograms (demands are found again by quantity)."""
        self._seq += 1
        return (Decimal(self._seq) * Q).quantize(Q)

    def _distinct_tonnes(self, key: tuple[str, ...], low: int, span: int) -> Decimal:
        """Tonnes in [low, low + span) t, distinct for each report with the same `key`
        (party, kind, code, month), so a GraphQL report whose outcome was ambiguous can be
        found again by its tonnes. 997 is prime to `span`, so n·997 mod span runs through
        every kilogram count before repeating."""
        n = self._counters.get(key, 0) + 1
        self._counters[key] = n
        if n >= span:
            raise RuntimeError(f"more than {span} reports of {key}: widen the span")
        return (Decimal(low) + Decimal((n * 997) % span) * Q).quantize(Q)

    async def _offer(self, party: Party) -> None:
        code = self.random.choice(CODES)
        tonnes = (Decimal(self.random.randint(1000, 20000)) * Q).quantize(Q)
        today = china_today()
        channel = "kafka" if self.random.random() < 0.7 else "graphql"
        sent = Sent(
            key=self._key(),
            kind="offer",
            channel=channel,
            party_id=party.id,
            event_type="wastex.offer.submit",
            tonnes=tonnes,
            code=code,
            site_id=party.site_id,
            sent_at=time.monotonic(),
        )
        data = {
            "siteId": party.site_id,
            "wasteCode": code,
            "quantityTonnes": str(tonnes),
            "availableFrom": today.isoformat(),
            "availableUntil": (today + timedelta(days=60)).isoformat(),
            "description": f"chaos {sent.key}",
        }
        self.record.sent.append(sent)
        self.offers_posted += 1
        if channel == "kafka":
            sent.event_id, body = ingest_message(sent.event_type, party.id, data)
            await self.producer.send(INGEST_OFFERS.name, body, party.id, auth_header(party.token))
            sent.outcome = "acked"
            return
        outcome = await self.api.mutate(party.token, POST_OFFER, "postOffer", input=data)
        self._settle(sent, outcome, "offer")

    async def _demand(self, party: Party) -> None:
        today = china_today()
        tonnes = (Decimal(100000) + self._unique_fraction()).quantize(Q)
        channel = "kafka" if self.random.random() < 0.5 else "graphql"
        sent = Sent(
            key=self._key(),
            kind="demand",
            channel=channel,
            party_id=party.id,
            event_type="wastex.demand.submit",
            tonnes=tonnes,
            site_id=party.site_id,
            sent_at=time.monotonic(),
        )
        data = {
            "siteId": party.site_id,
            "wasteCodes": list(CODES),
            "quantityTonnes": str(tonnes),
            "maxDistanceKm": "150",
            "availableFrom": today.isoformat(),
            "availableUntil": (today + timedelta(days=90)).isoformat(),
        }
        self.record.sent.append(sent)
        if channel == "kafka":
            sent.event_id, body = ingest_message(sent.event_type, party.id, data)
            await self.producer.send(INGEST_DEMANDS.name, body, party.id, auth_header(party.token))
            sent.outcome = "acked"
            # Whose demand it is, for the deals: a match names no recycler to the supplier
            # before both agree (decision 022). The catalog's id for it, by its own rule.
            self.city.demands[aggregate_id("demand", Envelope.from_json(body))] = party.id
            return
        outcome = await self.api.mutate(party.token, POST_DEMAND, "postDemand", input=data)
        self._settle(sent, outcome, "demand")
        if sent.entity_id is not None:
            self.city.demands[sent.entity_id] = party.id

    def _settle(self, sent: Sent, outcome: Outcome, entity: str) -> None:
        self.record.graphql_outcomes[type(outcome).__name__] += 1
        if isinstance(outcome, Applied):
            if outcome.ok:
                sent.outcome = "applied"
                sent.entity_id = str(outcome.payload[entity]["id"])
            else:
                sent.outcome = "rejected"
                sent.detail = ",".join(outcome.errors)
        elif isinstance(outcome, NotApplied):
            sent.outcome, sent.detail = "not_applied", outcome.reason[:300]
        else:
            sent.outcome, sent.detail = "ambiguous", outcome.reason[:300]

    # -- ledger reports --------------------------------------------------------------

    async def _report(self, party: Party) -> None:
        code = self.random.choice(CODES)
        period = self.random.choice(self.city.periods)
        balance = self.record.balance(party.id, code, period)
        if self.random.random() < 0.3 or balance.free < 60:
            event_type = "wastex.report.generation"
            key = (party.id, event_type, code, period)
            tonnes = self._distinct_tonnes(key, 5, 25_000)  # 5 … 30 t
        else:
            event_type = self.random.choice(USE_TYPES)
            key = (party.id, event_type, code, period)
            tonnes = self._distinct_tonnes(key, 0, 5_000) + Decimal("0.5")  # 0.5 … 5.5 t
        sent = Sent(
            key=self._key(),
            kind="report",
            channel=party.report_channel,
            party_id=party.id,
            event_type=event_type,
            tonnes=tonnes,
            code=code,
            period=period,
            site_id=party.site_id,
        )
        if party.report_channel == "kafka":
            await self._report_kafka(party, sent)
        else:
            await self._report_graphql(party, sent)

    async def _report_kafka(self, party: Party, sent: Sent) -> None:
        assert sent.code is not None
        assert sent.period is not None
        balance = self.record.balance(party.id, sent.code, sent.period)
        data = {
            "siteId": party.site_id,
            "wasteCode": sent.code,
            "tonnes": str(sent.tonnes),
            "period": sent.period,
        }
        sent.sent_at = time.monotonic()
        self.record.sent.append(sent)
        if sent.event_type != "wastex.report.generation":
            balance.used += sent.tonnes
        sent.event_id, body = ingest_message(sent.event_type, party.id, data)
        await self.producer.send(
            INGEST_LEDGER_REPORTS.name, body, party.id, auth_header(party.token)
        )
        sent.outcome = "acked"
        if sent.event_type == "wastex.report.generation":
            balance.generated += sent.tonnes

    async def _report_graphql(self, party: Party, sent: Sent, must: bool = False) -> None:
        assert sent.code is not None
        assert sent.period is not None
        balance = self.record.balance(party.id, sent.code, sent.period)
        name = REPORT_MUTATIONS[sent.event_type]
        variables = {
            "siteId": party.site_id,
            "wasteCode": sent.code,
            "tonnes": str(sent.tonnes),
            "period": sent.period,
        }
        is_use = sent.event_type != "wastex.report.generation"
        sent.sent_at = time.monotonic()
        self.record.sent.append(sent)
        if is_use:
            balance.used += sent.tonnes  # counted at once, whatever becomes of it
        for _ in range(600 if must else 1):
            outcome = await self.api.mutate(party.token, REPORT % name, name, input=variables)
            if must and not (isinstance(outcome, Applied) and outcome.ok):
                if isinstance(outcome, Ambiguous):
                    raise RuntimeError(f"set-up report ambiguous: {outcome.reason}")
                await asyncio.sleep(0.2)  # the ledger may not know the site yet
                continue
            break
        self._settle(sent, outcome, "entry")
        if not is_use and sent.outcome == "applied":
            balance.generated += sent.tonnes

    # -- deals: acceptances and shipments ---------------------------------------------

    async def _deal_driver(self) -> None:
        while await self._paced(2.0):
            try:
                active = [d for d in self.record.deals.values() if not d.done]
                if len(active) < self.max_active_deals and len(self.record.deals) < self.max_deals:
                    await self._new_deal()
                for deal in active:
                    await self._step(deal)
            except Exception as exc:
                self.record.graphql_outcomes[f"deal_error:{type(exc).__name__}"] += 1

    async def _new_deal(self) -> None:
        party = self.random.choice(self.city.factories)
        try:
            data = await self.api.query(
                party.token, PROPOSED, filter={"enterpriseId": party.id, "status": "PROPOSED"}
            )
        except Exception:
            return
        for edge in data["matches"]["edges"]:
            node = edge["node"]
            # The match names no recycler until confirmed (decision 022): the city knows
            # whose demand it is.
            recycler_id = self.city.demands.get(node["demand"]["id"])
            if node["id"] in self.record.deals or recycler_id is None:
                continue
            tonnes = Decimal(node["tonnes"]).quantize(Q)
            period = self.city.periods[-1]
            balance = self.record.balance(party.id, node["wasteCode"], period)
            if balance.free < tonnes + 50:
                continue
            balance.reserved += tonnes
            self.record.deals[node["id"]] = Deal(
                match_id=node["id"],
                offer_id=node["offer"]["id"],
                supplier_id=party.id,
                recycler_id=recycler_id,
                code=node["wasteCode"],
                tonnes=tonnes,
            )
            return

    async def _step(self, deal: Deal) -> None:
        """Read the deal's state, then take the one action that moves it on. Reading first
        makes every action safe to repeat after an ambiguous outcome."""
        supplier = self.city.party(deal.supplier_id)
        recycler = self.city.party(deal.recycler_id)
        try:
            found = await self.api.query(supplier.token, MATCH, id=deal.match_id)
        except Exception:
            return
        deal.status = found["match"]["status"] if found.get("match") else "MISSING"
        if deal.status in ("SUPERSEDED", "REJECTED", "EXPIRED", "CANCELLED", "MISSING"):
            self._release(deal)
            deal.done, deal.abandoned = True, deal.status
            return
        if deal.status in ("PROPOSED", "ACCEPTED_BY_RECYCLER"):
            await self._act(deal, "accept_supplier", supplier.token, ACCEPT_MATCH, "acceptMatch")
            deal.accepted_by_us = True
            return
        if deal.status == "ACCEPTED_BY_SUPPLIER":
            await self._act(deal, "accept_recycler", recycler.token, ACCEPT_MATCH, "acceptMatch")
            return
        if deal.status != "CONFIRMED":
            return
        manifest = await self._manifest(supplier, deal)
        if manifest is None:
            return  # the ledger has not opened it yet
        deal.manifest_id = manifest["id"]
        status = manifest["status"]
        if status == "CREATED":
            await self._act(
                deal,
                "dispatch",
                supplier.token,
                DISPATCH,
                "dispatchShipment",
                input={"matchId": deal.match_id, "tonnes": str(deal.tonnes)},
            )
        elif status == "IN_TRANSIT":
            deal.dispatched = Decimal(manifest["dispatchedTonnes"])
            deal.period = manifest["period"]
            received = (deal.dispatched * Decimal("0.995")).quantize(Q)
            await self._act(
                deal,
                "receive",
                recycler.token,
                RECEIVE,
                "receiveShipment",
                input={"manifestId": deal.manifest_id, "tonnes": str(received)},
            )
        elif status in ("RECEIVED", "DISCREPANCY"):
            deal.dispatched = Decimal(manifest["dispatchedTonnes"])
            deal.received = Decimal(manifest["receivedTonnes"])
            deal.period = manifest["period"]
            self._settle_deal_balance(deal)
            deal.done = True

    async def _act(
        self, deal: Deal, action: str, token: str, query: str, field_name: str, **v: Any
    ) -> None:
        if not v:
            v = {"id": deal.match_id}
        outcome = await self.api.mutate(token, query, field_name, **v)
        self.record.graphql_outcomes[type(outcome).__name__] += 1
        label = type(outcome).__name__
        if isinstance(outcome, Applied) and not outcome.ok:
            label = "userError:" + ",".join(outcome.errors)
        deal.actions[f"{action}:{label}"] += 1

    async def _manifest(self, supplier: Party, deal: Deal) -> dict[str, Any] | None:
        try:
            nodes = await self.api.all_nodes(
                supplier.token, MANIFESTS, "manifests", filter={"enterpriseId": supplier.id}
            )
        except Exception:
            return None
        for node in nodes:
            if node["matchId"] == deal.match_id:
                return node
        return None

    def _release(self, deal: Deal) -> None:
        period = self.city.periods[-1]
        self.record.balance(deal.supplier_id, deal.code, period).reserved -= deal.tonnes

    def _settle_deal_balance(self, deal: Deal) -> None:
        """The reservation becomes a use in the month the shipment was booked in."""
        self._release(deal)
        assert deal.period is not None
        assert deal.dispatched is not None
        balance = self.record.balance(deal.supplier_id, deal.code, deal.period)
        balance.used += max(deal.dispatched, deal.received or deal.dispatched)
