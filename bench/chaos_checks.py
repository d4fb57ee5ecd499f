"""What must hold once the load has drained: nothing lost, nothing doubled, the ledger's
figures equal to those recomputed from the generator's own record, every consumer group at
the end of its topics and every outbox empty.

All reads go through the gateway as a regulator of all districts (or the admin), the way a
person checking the system would look; the services' databases are only counted, never
written.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx

from bench.chaos_api import (
    DEMANDS,
    ENTRIES,
    MANIFESTS,
    MATCHES,
    OFFERS,
    REPORT,
    REPORT_MUTATIONS,
    UTILISATION,
    Api,
    Applied,
)
from bench.chaos_city import CODES, City
from bench.chaos_kafka import LogTail, Offsets, consumer_groups
from bench.chaos_load import ENTRY_KIND, Q, Record, Sent

RATE = Decimal("0.0001")
SERVICES = ("catalog", "matching", "ledger")


@dataclass
class Finding:
    check: str
    kind: str  # lost | duplicated | phantom | mismatch | stuck
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "kind": self.kind, "detail": self.detail}


@dataclass
class Verdict:
    checked: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    def add(self, check: str, kind: str, detail: str) -> None:
        self.findings.append(Finding(check, kind, detail))

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    @property
    def lost(self) -> int:
        return self.count("lost")

    @property
    def duplicated(self) -> int:
        return self.count("duplicated")

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self, limit: int = 50) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "phantom": self.count("phantom"),
            "mismatch": self.count("mismatch"),
            "stuck": self.count("stuck"),
            "checked": dict(self.checked),
            "findings": [f.as_dict() for f in self.findings[:limit]],
            "findings_total": len(self.findings),
        }


# -- health, metrics, drain ------------------------------------------------------------


async def healthy(service_url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=1.0) as http:
            return (await http.get(f"{service_url}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


async def outbox_backlog(service_url: str) -> int | None:
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            text = (await http.get(f"{service_url}/metrics")).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith("wastex_outbox_backlog"):
            return int(float(line.rsplit(" ", 1)[1]))
    return None


async def lag_of(tail: LogTail, offsets: Offsets, service: str) -> int:
    return sum((await lag_by_partition(tail, offsets, service)).values())


async def lag_by_partition(tail: LogTail, offsets: Offsets, service: str) -> dict[str, int]:
    """`group topic-partition` → messages not yet committed, where any are."""
    lag: dict[str, int] = {}
    for group, topics in consumer_groups()[service].items():
        for tp, offset in (await offsets.committed(group, topics)).items():
            if (behind := tail.end(tp) - offset) > 0:
                lag[f"{group} {tp.topic}-{tp.partition}"] = behind
    return lag


async def settled(
    service_urls: dict[str, str], tail: LogTail, offsets: Offsets
) -> dict[str, dict[str, int | None]]:
    """Per service: healthy (1/0), outbox backlog and consumer lag right now."""
    await tail.caught_up(timeout=10)
    state: dict[str, dict[str, int | None]] = {}
    for service, url in service_urls.items():
        try:
            lag: int | None = await lag_of(tail, offsets, service)
        except Exception:
            lag = None
        state[service] = {
            "healthy": int(await healthy(url)),
            "backlog": await outbox_backlog(url),
            "lag": lag,
        }
    return state


def is_settled(state: dict[str, dict[str, int | None]]) -> bool:
    return all(s["healthy"] == 1 and s["backlog"] == 0 and s["lag"] == 0 for s in state.values())


async def drain(
    service_urls: dict[str, str],
    tail: LogTail,
    offsets: Offsets,
    timeout: float = 120.0,
    stable_rounds: int = 3,
) -> tuple[float, dict[str, dict[str, int | None]]]:
    """Wait until every service is healthy with an empty outbox and no consumer lag, a few
    times in a row (a relay may publish what a consumer then has to read)."""
    started = time.monotonic()
    rounds = 0
    state: dict[str, dict[str, int | None]] = {}
    while time.monotonic() - started < timeout:
        state = await settled(service_urls, tail, offsets)
        rounds = rounds + 1 if is_settled(state) else 0
        if rounds >= stable_rounds:
            return time.monotonic() - started, state
        await asyncio.sleep(0.5)
    return time.monotonic() - started, state


# -- ambiguous outcomes ---------------------------------------------------------------


async def _catalog_offers(api: Api, city: City, enterprise_id: str) -> list[dict[str, Any]]:
    return await api.all_nodes(
        city.admin_token, OFFERS, "offers", filter={"enterpriseId": enterprise_id}
    )


async def _catalog_demands(api: Api, city: City, enterprise_id: str) -> list[dict[str, Any]]:
    return await api.all_nodes(
        city.admin_token, DEMANDS, "demands", filter={"enterpriseId": enterprise_id}
    )


async def _entries(api: Api, city: City, enterprise_id: str) -> list[dict[str, Any]]:
    return await api.all_nodes(
        city.regulator_token, ENTRIES, "ledgerEntries", filter={"enterpriseId": enterprise_id}
    )


def _signature(entry: dict[str, Any]) -> tuple[str, str, str, str, Decimal]:
    return (
        entry["kind"],
        entry["siteId"],
        entry["wasteCode"],
        entry["period"],
        Decimal(entry["tonnes"]).quantize(Q),
    )


def _sent_signature(sent: Sent) -> tuple[str, str, str, str, Decimal]:
    assert sent.site_id
    assert sent.code
    assert sent.period
    return (ENTRY_KIND[sent.event_type], sent.site_id, sent.code, sent.period, sent.tonnes)


async def resolve_ambiguous(api: Api, city: City, record: Record) -> Counter[str]:
    """Look up each ambiguous GraphQL call; send the ones that did not happen again (the
    services are healthy now), so every intended item ends up made exactly once."""
    counts: Counter[str] = Counter()
    for sent in [s for s in record.sent if s.outcome == "ambiguous" and s.resolution is None]:
        party = city.party(sent.party_id)
        if sent.kind == "offer":
            nodes = await _catalog_offers(api, city, party.id)
            present = [n for n in nodes if n["description"] == f"chaos {sent.key}"]
        elif sent.kind == "demand":
            nodes = await _catalog_demands(api, city, party.id)
            present = [n for n in nodes if Decimal(n["quantityTonnes"]) == sent.tonnes]
        else:
            nodes = await _entries(api, city, party.id)
            present = [n for n in nodes if _signature(n) == _sent_signature(sent)]
        if present:
            sent.resolution = "present"
            sent.entity_id = str(present[0]["id"])
        else:
            sent.resolution = await _resend(api, city, sent)
        counts[sent.resolution] += 1
    return counts


async def _resend(api: Api, city: City, sent: Sent) -> str:
    party = city.party(sent.party_id)
    if sent.kind == "report":
        name = REPORT_MUTATIONS[sent.event_type]
        query, field_name, entity = REPORT % name, name, "entry"
        variables: dict[str, Any] = {
            "input": {
                "siteId": sent.site_id,
                "wasteCode": sent.code,
                "tonnes": str(sent.tonnes),
                "period": sent.period,
            }
        }
    else:
        # Offers and demands are not resent: their windows and texts are not kept; an
        # ambiguous one that did not happen simply was not made.
        return "absent"
    for _ in range(50):
        outcome = await api.mutate(party.token, query, field_name, **variables)
        if isinstance(outcome, Applied):
            if outcome.ok:
                sent.entity_id = str(outcome.payload[entity]["id"])
                return "resent"
            return "absent"
        await asyncio.sleep(0.3)
    return "absent"


# -- exactly once ---------------------------------------------------------------------


def _expect_once(verdict: Verdict, check: str, what: str, count: int, made: bool) -> None:
    verdict.checked[check] += 1
    if made and count == 0:
        verdict.add(check, "lost", f"{what} is missing")
    elif made and count > 1:
        verdict.add(check, "duplicated", f"{what} exists {count} times")
    elif not made and count > 0:
        verdict.add(check, "phantom", f"{what} was not made but exists {count} time(s)")


async def check_offers_and_demands(api: Api, city: City, record: Record, verdict: Verdict) -> None:
    by_party: dict[str, list[Sent]] = defaultdict(list)
    for sent in record.sent:
        if sent.kind in ("offer", "demand"):
            by_party[sent.party_id].append(sent)
    for party in city.factories:
        nodes = await _catalog_offers(api, city, party.id)
        tags = Counter(n["description"] for n in nodes)
        known = set()
        for sent in by_party[party.id]:
            if sent.kind != "offer":
                continue
            tag = f"chaos {sent.key}"
            known.add(tag)
            _expect_once(
                verdict, "offers", f"offer {sent.key} ({sent.channel})", tags[tag], sent.made
            )
        for tag, count in tags.items():
            if tag not in known:
                verdict.add("offers", "phantom", f"unknown offer {tag!r} ×{count}")
    for party in city.recyclers:
        nodes = await _catalog_demands(api, city, party.id)
        quantities = Counter(Decimal(n["quantityTonnes"]).quantize(Q) for n in nodes)
        setup = {n["id"] for n in nodes if n["id"] in city.demands}
        known_q = set()
        for sent in by_party[party.id]:
            if sent.kind != "demand":
                continue
            known_q.add(sent.tonnes)
            _expect_once(
                verdict,
                "demands",
                f"demand {sent.key} ({sent.channel})",
                quantities[sent.tonnes],
                sent.made,
            )
        for node in nodes:
            q = Decimal(node["quantityTonnes"]).quantize(Q)
            if node["id"] not in setup and q not in known_q:
                verdict.add("demands", "phantom", f"unknown demand {node['id']} of {q} t")


async def check_entries(api: Api, city: City, record: Record, verdict: Verdict) -> None:
    for party in city.parties:
        entries = await _entries(api, city, party.id)
        explained: set[str] = set()
        for sent in record.sent:
            if sent.kind != "report" or sent.party_id != party.id:
                continue
            signature = _sent_signature(sent)
            if sent.channel == "kafka":
                # The ledger names the cause of an ingested report: exact.
                cause = f"{party.id}/{sent.event_id}"
                found = [e for e in entries if e["causeEventId"] == cause]
            else:
                found = [e for e in entries if _signature(e) == signature]
            what = f"{sent.event_type} {sent.key} ({sent.channel}, {sent.tonnes} t)"
            if len(found) > 1:
                what += ": " + "; ".join(f"{e['id']} cause {e['causeEventId']}" for e in found)
            _expect_once(verdict, "ledger entries", what, len(found), sent.made)
            explained.update(e["id"] for e in found)
        for deal in record.deals.values():
            if deal.received is None:
                continue
            if party.id == deal.supplier_id:
                kind = "TRANSFERRED_OUT"
            elif party.id == deal.recycler_id:
                kind = "TRANSFERRED_IN"
            else:
                continue
            found = [
                e for e in entries if e["kind"] == kind and e["manifestId"] == deal.manifest_id
            ]
            _expect_once(
                verdict, "ledger entries", f"{kind} of match {deal.match_id}", len(found), True
            )
            explained.update(e["id"] for e in found)
            for e in found:
                if Decimal(e["tonnes"]) != deal.received:
                    verdict.add(
                        "ledger entries",
                        "mismatch",
                        f"{kind} of {deal.match_id}: {e['tonnes']} t ≠ {deal.received}",
                    )
        for entry in entries:
            if entry["id"] not in explained:
                verdict.add(
                    "ledger entries",
                    "phantom",
                    f"unexplained {entry['kind']} {entry['tonnes']} t "
                    f"(cause {entry['causeEventId']})",
                )


async def check_matches(api: Api, city: City, record: Record, verdict: Verdict) -> None:
    """Accepted and confirmed matches: one manifest each (confirmed), and the catalog holds
    exactly their tonnes on their offers."""
    held: dict[str, Decimal] = defaultdict(lambda: Decimal("0.000"))
    confirmed: dict[str, dict[str, Any]] = {}
    for party in city.factories:
        for status in ("ACCEPTED_BY_SUPPLIER", "ACCEPTED_BY_RECYCLER", "CONFIRMED"):
            nodes = await api.all_nodes(
                party.token,
                MATCHES,
                "matches",
                filter={"enterpriseId": party.id, "status": status},
            )
            for node in nodes:
                # A lighter shipment holds what left (decision 032).
                tonnes, shipped = Decimal(node["tonnes"]), node.get("shippedTonnes")
                held[node["offer"]["id"]] += (
                    tonnes if shipped is None else min(tonnes, Decimal(shipped))
                )
                if status == "CONFIRMED":
                    confirmed[node["id"]] = node
        manifests = await api.all_nodes(
            city.regulator_token, MANIFESTS, "manifests", filter={"enterpriseId": party.id}
        )
        per_match = Counter(
            m["matchId"] for m in manifests if m["supplierEnterpriseId"] == party.id
        )
        for match_id, node in confirmed.items():
            if node["supplierEnterpriseId"] == party.id:
                _expect_once(
                    verdict, "manifests", f"manifest of match {match_id}", per_match[match_id], True
                )
        for match_id, _count in per_match.items():
            if match_id not in confirmed:
                verdict.add("manifests", "phantom", f"manifest of unconfirmed match {match_id}")
        offers = await _catalog_offers(api, city, party.id)
        for offer in offers:
            verdict.checked["offer allocations"] += 1
            want = held.get(offer["id"], Decimal("0.000"))
            if Decimal(offer["matchedTonnes"]) != want:
                kind = "duplicated" if Decimal(offer["matchedTonnes"]) > want else "lost"
                verdict.add(
                    "offer allocations",
                    kind,
                    f"offer {offer['id']} holds {offer['matchedTonnes']} t; its "
                    f"accepted/confirmed matches take {want} t",
                )
    for deal in record.deals.values():
        if deal.accepted_by_us and deal.received is not None:
            verdict.checked["deals"] += 1
            if deal.match_id not in confirmed:
                verdict.add("deals", "lost", f"received deal {deal.match_id} is not CONFIRMED")


# -- figures --------------------------------------------------------------------------


@dataclass
class Expected:
    generated: Decimal = Decimal("0.000")
    in_plant: Decimal = Decimal("0.000")
    stored: Decimal = Decimal("0.000")
    disposed: Decimal = Decimal("0.000")
    transferred: Decimal = Decimal("0.000")

    def add(self, other: Expected) -> Expected:
        return Expected(
            self.generated + other.generated,
            self.in_plant + other.in_plant,
            self.stored + other.stored,
            self.disposed + other.disposed,
            self.transferred + other.transferred,
        )

    def rate(self) -> Decimal | None:
        if self.generated == 0:
            return None
        return ((self.in_plant + self.transferred) / self.generated).quantize(
            RATE, rounding=ROUND_HALF_EVEN
        )

    def in_plant_share(self) -> Decimal | None:
        if self.generated == 0:
            return None
        return (self.in_plant / self.generated).quantize(RATE, rounding=ROUND_HALF_EVEN)


FIELD_OF = {
    "wastex.report.generation": "generated",
    "wastex.report.in-plant-utilisation": "in_plant",
    "wastex.report.storage": "stored",
    "wastex.report.disposal": "disposed",
}


def expected_figures(record: Record) -> dict[tuple[str, str, str], Expected]:
    """(enterprise, code, period) → the figures the generator's record implies."""
    figures: dict[tuple[str, str, str], Expected] = defaultdict(Expected)
    for sent in record.sent:
        if sent.kind != "report" or not sent.made:
            continue
        assert sent.code
        assert sent.period
        key = (sent.party_id, sent.code, sent.period)
        current = figures[key]
        name = FIELD_OF[sent.event_type]
        setattr(current, name, getattr(current, name) + sent.tonnes)
    for deal in record.deals.values():
        if deal.received is not None and deal.period:
            figures[(deal.supplier_id, deal.code, deal.period)].transferred += deal.received
    return figures


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _compare(verdict: Verdict, what: str, got: dict[str, Any], want: Expected) -> None:
    verdict.checked["figures"] += 1
    pairs = {
        "generatedTonnes": want.generated,
        "utilisedInPlantTonnes": want.in_plant,
        "storedTonnes": want.stored,
        "disposedTonnes": want.disposed,
        "transferredForUtilisationTonnes": want.transferred,
        "priorStockUtilisedTonnes": Decimal("0.000"),
    }
    for name, value in pairs.items():
        if _dec(got[name]) != value:
            verdict.add("figures", "mismatch", f"{what}: {name} {got[name]} ≠ {value}")
    for name, rate in (("rate", want.rate()), ("inPlantShare", want.in_plant_share())):
        if _dec(got[name]) != rate:
            verdict.add("rates", "mismatch", f"{what}: {name} {got[name]} ≠ {rate}")
    generated = _dec(got["generatedTonnes"]) or Decimal(0)
    uses = sum(
        (_dec(got[n]) or Decimal(0))
        for n in (
            "utilisedInPlantTonnes",
            "storedTonnes",
            "disposedTonnes",
            "transferredForUtilisationTonnes",
        )
    )
    verdict.checked["balance identity"] += 1
    if uses > generated:
        verdict.add(
            "balance identity", "mismatch", f"{what}: uses {uses} t exceed generation {generated} t"
        )


async def check_figures(api: Api, city: City, record: Record, verdict: Verdict) -> None:
    expected = expected_figures(record)
    first, last = city.periods[0], city.periods[-1]
    for party in city.factories:
        total = Expected()
        for code in CODES:
            for period in city.periods:
                want = expected.get((party.id, code, period), Expected())
                total = total.add(want)
                got = (
                    await api.query_retrying(
                        city.regulator_token,
                        UTILISATION,
                        scope={"enterpriseId": party.id, "wasteCode": code},
                        **{"from": period, "to": period},
                    )
                )["utilisation"]
                _compare(verdict, f"{party.name} {code} {period}", got, want)
        got = (
            await api.query_retrying(
                city.regulator_token,
                UTILISATION,
                scope={"enterpriseId": party.id},
                **{"from": first, "to": last},
            )
        )["utilisation"]
        _compare(verdict, f"{party.name} {first}..{last}", got, total)
    for recycler in city.recyclers:
        intake = sum(
            (
                d.received
                for d in record.deals.values()
                if d.recycler_id == recycler.id and d.received is not None
            ),
            Decimal("0.000"),
        )
        got = (
            await api.query_retrying(
                city.regulator_token,
                UTILISATION,
                scope={"enterpriseId": recycler.id},
                **{"from": first, "to": last},
            )
        )["utilisation"]
        verdict.checked["intake"] += 1
        if _dec(got["intakeTonnes"]) != intake or _dec(got["generatedTonnes"]) != 0:
            verdict.add(
                "figures",
                "mismatch",
                f"{recycler.name}: intake {got['intakeTonnes']} ≠ {intake} or "
                f"generation {got['generatedTonnes']} ≠ 0",
            )


async def check_settled(
    service_urls: dict[str, str], tail: LogTail, offsets: Offsets, verdict: Verdict
) -> dict[str, dict[str, int | None]]:
    state = await settled(service_urls, tail, offsets)
    for service, s in state.items():
        verdict.checked["settled"] += 1
        if s["healthy"] != 1:
            verdict.add("settled", "stuck", f"{service} is not healthy")
        if s["backlog"] != 0:
            verdict.add("settled", "stuck", f"{service} outbox backlog {s['backlog']}")
        if s["lag"] != 0:
            verdict.add("settled", "stuck", f"{service} consumer lag {s['lag']}")
    return state


async def verify(
    api: Api,
    city: City,
    record: Record,
    service_urls: dict[str, str],
    tail: LogTail,
    offsets: Offsets,
) -> Verdict:
    verdict = Verdict()
    steps: list[Callable[[], Awaitable[Any]]] = [
        lambda: check_offers_and_demands(api, city, record, verdict),
        lambda: check_entries(api, city, record, verdict),
        lambda: check_matches(api, city, record, verdict),
        lambda: check_figures(api, city, record, verdict),
        lambda: check_settled(service_urls, tail, offsets, verdict),
    ]
    for step in steps:
        await step()
    return verdict


# -- state snapshots (replay) ---------------------------------------------------------


async def snapshot(api: Api, city: City) -> dict[str, Any]:
    """The answers a user gets about this city, in a canonical order."""
    state: dict[str, Any] = {}
    for party in city.factories:
        offers = await _catalog_offers(api, city, party.id)
        state[f"offers/{party.name}"] = sorted(
            (o["id"], o["status"], o["quantityTonnes"], o["matchedTonnes"]) for o in offers
        )
        matches = await api.all_nodes(
            party.token, MATCHES, "matches", filter={"enterpriseId": party.id}
        )
        state[f"matches/{party.name}"] = sorted(
            (m["id"], m["status"], m["tonnes"], m["offer"]["id"], m["demand"]["id"])
            for m in matches
        )
    for party in city.recyclers:
        demands = await _catalog_demands(api, city, party.id)
        state[f"demands/{party.name}"] = sorted(
            (d["id"], d["status"], d["quantityTonnes"], d["matchedTonnes"]) for d in demands
        )
    for party in city.parties:
        entries = await _entries(api, city, party.id)
        state[f"entries/{party.name}"] = sorted(
            (e["id"], e["kind"], e["tonnes"], e["period"]) for e in entries
        )
        manifests = await api.all_nodes(
            city.regulator_token, MANIFESTS, "manifests", filter={"enterpriseId": party.id}
        )
        state[f"manifests/{party.name}"] = sorted(
            (m["id"], m["matchId"], m["status"], m["dispatchedTonnes"], m["receivedTonnes"])
            for m in manifests
        )
        for code in (*CODES, None):
            scope: dict[str, str] = {"enterpriseId": party.id}
            if code:
                scope["wasteCode"] = code
            for period in city.periods:
                got = await api.query_retrying(
                    city.regulator_token,
                    UTILISATION,
                    scope=scope,
                    **{"from": period, "to": period},
                )
                state[f"utilisation/{party.name}/{code or '*'}/{period}"] = got["utilisation"]
    return state


def diff(before: dict[str, Any], after: dict[str, Any], limit: int = 20) -> list[str]:
    out = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            b, a = before.get(key), after.get(key)
            if isinstance(b, list) and isinstance(a, list):
                gone = [x for x in b if x not in a][:3]
                new = [x for x in a if x not in b][:3]
                out.append(f"{key}: {len(b)}→{len(a)} rows; gone {gone}; new {new}")
            else:
                out.append(f"{key}: {b} → {a}")
        if len(out) >= limit:
            break
    return out
