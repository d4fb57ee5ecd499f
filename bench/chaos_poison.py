"""Poison: messages no consumer can or may handle, each expected in a dead-letter topic
with its reason, and nothing else changed; then a fixable one re-driven with `wastex dlq`.

Every poison message carries a unique Kafka key (`poison-<case>-<n>`), so its dead letter
is found again even when its value is not JSON.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench.chaos_api import Api
from bench.chaos_city import City, Party, current_period, register_party
from bench.chaos_city import report_graphql as setup_report
from bench.chaos_kafka import DLQ_TOPICS, DeadLetter, LogTail, Producer
from bench.chaos_load import auth_header
from wastex_shared.auth import JwtConfig, Role, issue_token
from wastex_shared.calendar import china_today
from wastex_shared.envelope import utcnow
from wastex_shared.messaging.unpacked_size import UNPACKED_LIMIT
from wastex_shared.settings import ServiceSettings
from wastex_shared.testing.record_batches import ZSTD, record_batch
from wastex_shared.topics import INGEST_LEDGER_REPORTS, INGEST_OFFERS

JWT = ServiceSettings().jwt
OVERSIZE = 300 * 1024  # over the consumers' 256 KiB limit, under the producer's 4 MiB


@dataclass(frozen=True)
class PoisonCase:
    name: str
    service: str  # whose DLQ it lands in
    topic: str
    #: reason codes (x-error-type) that are right for it
    reasons: frozenset[str]
    build: Callable[[PoisonContext], tuple[bytes | None, list[tuple[str, bytes]]]]
    #: `build` gives a whole record batch, sent as it is (to partition 0): no key to find its
    #: dead letter by, which is found by the batch's position instead.
    as_batch: bool = False


@dataclass
class PoisonContext:
    party: Party  # a factory whose site and token are real
    other: Party  # another enterprise (for forged sources)
    regulator_token: str

    def envelope(self, event_type: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
        body = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "type": event_type,
            "source": self.party.id,
            "time": utcnow().isoformat().replace("+00:00", "Z"),
            "data": data,
        }
        body.update(extra)
        return body

    def offer(self, **overrides: Any) -> dict[str, Any]:
        today = china_today()
        data = {
            "siteId": self.party.site_id,
            "wasteCode": "SW01",
            "quantityTonnes": "12.000",
            "availableFrom": today.isoformat(),
            "availableUntil": (today + timedelta(days=30)).isoformat(),
            "description": "poison",
        }
        data.update(overrides)
        return data

    def report(self, **overrides: Any) -> dict[str, Any]:
        data = {
            "siteId": self.party.site_id,
            "wasteCode": "SW01",
            "tonnes": "1.000",
            "period": current_period(),
        }
        data.update(overrides)
        return data

    @property
    def auth(self) -> list[tuple[str, bytes]]:
        return auth_header(self.party.token)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _expired(ctx: PoisonContext) -> list[tuple[str, bytes]]:
    token = issue_token(JWT, Role.ENTERPRISE, ctx.party.id, ttl=timedelta(seconds=-60))
    return auth_header(token)


def _wrong_key(ctx: PoisonContext) -> list[tuple[str, bytes]]:
    other = JwtConfig(secret="not-the-wastex-secret-0123456789abcdef0123456789")
    return auth_header(issue_token(other, Role.ENTERPRISE, ctx.party.id))


def _unpacking_bomb(_: PoisonContext) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A few KB of zstd unpacking to more than a service should ever hold."""
    return record_batch([(bytes(UNPACKED_LIMIT + 1), [])], compression=ZSTD), []


def _cases() -> list[PoisonCase]:
    offers, reports = INGEST_OFFERS.name, INGEST_LEDGER_REPORTS.name
    sub, rep = "wastex.offer.submit", "wastex.report.generation"
    use = "wastex.report.in-plant-utilisation"
    return [
        # -- catalog: ingest.offers.v1 --
        PoisonCase(
            "offer.bad-json",
            "catalog",
            offers,
            frozenset({"INVALID_ENVELOPE"}),
            lambda c: (b'{"specversion": "1.0", "id": ', c.auth),
        ),
        PoisonCase(
            "offer.binary",
            "catalog",
            offers,
            frozenset({"INVALID_ENVELOPE"}),
            lambda c: (bytes(range(256)), c.auth),
        ),
        PoisonCase(
            "offer.empty", "catalog", offers, frozenset({"EMPTY_MESSAGE"}), lambda c: (None, c.auth)
        ),
        PoisonCase(
            "offer.missing-field",
            "catalog",
            offers,
            frozenset({"SCHEMA_INVALID"}),
            lambda c: (_json(c.envelope(sub, {"wasteCode": "SW01"})), c.auth),
        ),
        PoisonCase(
            "offer.unknown-field",
            "catalog",
            offers,
            frozenset({"SCHEMA_INVALID"}),
            lambda c: (_json(c.envelope(sub, c.offer(colour="red"))), c.auth),
        ),
        PoisonCase(
            "offer.not-a-date",
            "catalog",
            offers,
            frozenset({"SCHEMA_INVALID"}),
            lambda c: (_json(c.envelope(sub, c.offer(availableFrom="soon"))), c.auth),
        ),
        PoisonCase(
            "offer.unknown-type",
            "catalog",
            offers,
            frozenset({"UNKNOWN_EVENT_TYPE"}),
            lambda c: (_json(c.envelope("wastex.offer.explode", c.offer())), c.auth),
        ),
        PoisonCase(
            "offer.newer-schema",
            "catalog",
            offers,
            frozenset({"UNSUPPORTED_SCHEMA_VERSION"}),
            lambda c: (_json(c.envelope(sub, c.offer(), schemaversion=99)), c.auth),
        ),
        PoisonCase(
            "offer.unknown-code",
            "catalog",
            offers,
            frozenset({"UNKNOWN_WASTE_CODE"}),
            lambda c: (_json(c.envelope(sub, c.offer(wasteCode="SW77"))), c.auth),
        ),
        PoisonCase(
            "offer.abolished-code",
            "catalog",
            offers,
            frozenset({"ABOLISHED_WASTE_CODE"}),
            lambda c: (_json(c.envelope(sub, c.offer(wasteCode="HW41"))), c.auth),
        ),
        PoisonCase(
            "offer.negative-tonnes",
            "catalog",
            offers,
            frozenset({"INVALID_QUANTITY"}),
            lambda c: (_json(c.envelope(sub, c.offer(quantityTonnes="-5"))), c.auth),
        ),
        PoisonCase(
            "offer.absurd-tonnes",
            "catalog",
            offers,
            frozenset({"INVALID_QUANTITY"}),
            lambda c: (_json(c.envelope(sub, c.offer(quantityTonnes="1e12"))), c.auth),
        ),
        PoisonCase(
            "offer.nan-tonnes",
            "catalog",
            offers,
            frozenset({"INVALID_QUANTITY", "SCHEMA_INVALID"}),
            lambda c: (_json(c.envelope(sub, c.offer(quantityTonnes="NaN"))), c.auth),
        ),
        PoisonCase(
            "offer.forged-source",
            "catalog",
            offers,
            frozenset({"FORGED_SOURCE"}),
            lambda c: (_json(c.envelope(sub, c.offer(), source=c.other.id)), c.auth),
        ),
        PoisonCase(
            "offer.missing-token",
            "catalog",
            offers,
            frozenset({"UNAUTHENTICATED"}),
            lambda c: (_json(c.envelope(sub, c.offer())), []),
        ),
        PoisonCase(
            "offer.expired-token",
            "catalog",
            offers,
            frozenset({"UNAUTHENTICATED"}),
            lambda c: (_json(c.envelope(sub, c.offer())), _expired(c)),
        ),
        PoisonCase(
            "offer.foreign-signature",
            "catalog",
            offers,
            frozenset({"UNAUTHENTICATED"}),
            lambda c: (_json(c.envelope(sub, c.offer())), _wrong_key(c)),
        ),
        PoisonCase(
            "offer.regulator-token",
            "catalog",
            offers,
            frozenset({"NOT_AUTHORIZED"}),
            lambda c: (_json(c.envelope(sub, c.offer())), auth_header(c.regulator_token)),
        ),
        PoisonCase(
            "offer.oversized",
            "catalog",
            offers,
            frozenset({"MESSAGE_TOO_LARGE"}),
            lambda c: (_json(c.envelope(sub, c.offer(description="x" * OVERSIZE))), c.auth),
        ),
        PoisonCase(
            "offer.someone-elses-site",
            "catalog",
            offers,
            frozenset({"NOT_AUTHORIZED", "NOT_FOUND", "UNKNOWN_SITE", "SITE_NOT_OWNED"}),
            lambda c: (_json(c.envelope(sub, c.offer(siteId=c.other.site_id))), c.auth),
        ),
        PoisonCase(
            "offer.service-event-smuggled",
            "catalog",
            offers,
            frozenset({"UNKNOWN_EVENT_TYPE", "NOT_AUTHORIZED", "UNAUTHENTICATED", "WRONG_TOPIC"}),
            lambda c: (
                _json(c.envelope("matching.match-confirmed", {"matchId": "x"}, source="matching")),
                [],
            ),
        ),
        PoisonCase(
            "offer.unpacking-bomb",
            "catalog",
            offers,
            frozenset({"UNREADABLE_BATCH"}),
            _unpacking_bomb,
            as_batch=True,
        ),
        # -- ledger: ingest.ledger-reports.v1 --
        PoisonCase(
            "report.bad-json",
            "ledger",
            reports,
            frozenset({"INVALID_ENVELOPE"}),
            lambda c: (b"not json at all", c.auth),
        ),
        PoisonCase(
            "report.bad-period",
            "ledger",
            reports,
            frozenset({"SCHEMA_INVALID", "INVALID_PERIOD"}),
            lambda c: (_json(c.envelope(rep, c.report(period="2026-13"))), c.auth),
        ),
        PoisonCase(
            "report.unknown-code",
            "ledger",
            reports,
            frozenset({"UNKNOWN_WASTE_CODE"}),
            lambda c: (_json(c.envelope(rep, c.report(wasteCode="XX01"))), c.auth),
        ),
        PoisonCase(
            "report.abolished-code",
            "ledger",
            reports,
            frozenset({"ABOLISHED_WASTE_CODE"}),
            lambda c: (_json(c.envelope(rep, c.report(wasteCode="HW42"))), c.auth),
        ),
        PoisonCase(
            "report.negative-tonnes",
            "ledger",
            reports,
            frozenset({"INVALID_QUANTITY"}),
            lambda c: (_json(c.envelope(rep, c.report(tonnes="-1.000"))), c.auth),
        ),
        PoisonCase(
            "report.absurd-tonnes",
            "ledger",
            reports,
            frozenset({"INVALID_QUANTITY"}),
            lambda c: (_json(c.envelope(rep, c.report(tonnes="99999999999"))), c.auth),
        ),
        PoisonCase(  # it waits for the site first: a few seconds in the chaos stack
            "report.unknown-site",
            "ledger",
            reports,
            frozenset({"UNKNOWN_SITE"}),
            lambda c: (_json(c.envelope(rep, c.report(siteId=str(uuid.uuid4())))), c.auth),
        ),
        PoisonCase(
            "report.use-beyond-generation",
            "ledger",
            reports,
            frozenset({"BALANCE_VIOLATION"}),
            lambda c: (_json(c.envelope(use, c.report(tonnes="900000.000"))), c.auth),
        ),
        PoisonCase(
            "report.forged-source",
            "ledger",
            reports,
            frozenset({"FORGED_SOURCE"}),
            lambda c: (_json(c.envelope(rep, c.report(), source=c.other.id)), c.auth),
        ),
        PoisonCase(
            "report.missing-token",
            "ledger",
            reports,
            frozenset({"UNAUTHENTICATED"}),
            lambda c: (_json(c.envelope(rep, c.report())), []),
        ),
        PoisonCase(
            "report.expired-token",
            "ledger",
            reports,
            frozenset({"UNAUTHENTICATED"}),
            lambda c: (_json(c.envelope(rep, c.report())), _expired(c)),
        ),
        PoisonCase(
            "report.oversized",
            "ledger",
            reports,
            frozenset({"MESSAGE_TOO_LARGE"}),
            lambda c: (_json(c.envelope(rep, c.report(), padding="y" * OVERSIZE)), c.auth),
        ),
        PoisonCase(
            "report.someone-elses-site",
            "ledger",
            reports,
            frozenset({"NOT_AUTHORIZED", "UNKNOWN_SITE", "SITE_NOT_OWNED"}),
            lambda c: (_json(c.envelope(rep, c.report(siteId=c.other.site_id))), c.auth),
        ),
        # A service's fact sent on a factories' ingest topic, without a token: it must not
        # be taken as the fact (here: a site the ledger would then accept reports for).
        PoisonCase(
            "report.service-event-smuggled",
            "ledger",
            reports,
            frozenset({"UNKNOWN_EVENT_TYPE", "NOT_AUTHORIZED", "UNAUTHENTICATED", "WRONG_TOPIC"}),
            lambda c: (
                _json(
                    c.envelope(
                        "catalog.site-added",
                        {
                            "siteId": f"smuggled-{uuid.uuid4().hex[:8]}",
                            "enterpriseId": c.party.id,
                            "name": "smuggled",
                            "district": "青山区",
                            "enterpriseDistrict": "青山区",
                            "industry": "C3120",
                            "latitude": "30.6",
                            "longitude": "114.3",
                        },
                        source="catalog",
                    )
                ),
                [],
            ),
        ),
    ]


CASES = _cases()


@dataclass
class PoisonOutcome:
    case: str
    service: str
    key: str
    parked: bool = False
    reason: str | None = None
    error: str | None = None
    reason_expected: bool = False
    copies: int = 0
    #: Where a case sent as a batch landed (topic, partition, offset of its last record).
    position: tuple[str, int, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "dlq": DLQ_TOPICS[self.service],
            "parked": self.parked,
            "reason": self.reason,
            "reason_expected": self.reason_expected,
            "error": (self.error or "")[:200],
            "copies": self.copies,
        }


async def send_poison(
    producer: Producer, ctx: PoisonContext, cases: list[PoisonCase] | None = None
) -> list[PoisonOutcome]:
    outcomes = []
    for n, case in enumerate(cases or CASES):
        key = f"poison-{case.name}-{n}-{uuid.uuid4().hex[:6]}"
        value, headers = case.build(ctx)
        position = None
        if case.as_batch and value is not None:
            position = await _send_batch(producer, case.topic, value)
        elif value is None:
            await _send_tombstone(producer, case.topic, key, headers)
        else:
            await producer.send(case.topic, value, key, headers)
        outcomes.append(PoisonOutcome(case.name, case.service, key, position=position))
    return outcomes


async def _send_batch(producer: Producer, topic: str, built: bytes) -> tuple[str, int, int]:
    """`built` as it is, to partition 0 (aiokafka frames only the request; it sends no batch
    it counts no record in, so one is counted, then replaced)."""
    inner = await producer._ensure()
    batch = inner.create_batch()
    assert batch.append(key=None, value=b"", timestamp=None)
    batch._buffer = bytearray(built)
    sent = await (await inner.send_batch(batch, topic, partition=0))
    return topic, 0, int(sent.offset)


async def _send_tombstone(
    producer: Producer, topic: str, key: str, headers: list[tuple[str, bytes]]
) -> None:
    inner = await producer._ensure()
    await inner.send_and_wait(topic, None, key=key.encode(), headers=headers)


def match_dead_letters(
    outcomes: list[PoisonOutcome], dead_letters: list[DeadLetter]
) -> list[PoisonOutcome]:
    by_key: dict[str, list[DeadLetter]] = {}
    by_position: dict[tuple[str, int, int], list[DeadLetter]] = {}
    for letter in dead_letters:
        by_key.setdefault(letter.key, []).append(letter)
        where = (letter.original_topic, letter.original_partition, letter.original_offset)
        by_position.setdefault(where, []).append(letter)
    reasons = {case.name: case.reasons for case in CASES}
    for outcome in outcomes:
        if outcome.position is None:
            found = by_key.get(outcome.key, [])
        else:
            found = by_position.get(outcome.position, [])
        positions = {(d.original_topic, d.original_offset) for d in found}
        outcome.copies = len(found)
        outcome.parked = bool(found) and len(positions) == 1
        if found:
            outcome.reason, outcome.error = found[0].error_type, found[0].error
            outcome.reason_expected = outcome.reason in reasons[outcome.case]
    return outcomes


async def wait_parked(
    tail: LogTail, outcomes: list[PoisonOutcome], timeout: float = 60.0
) -> list[PoisonOutcome]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match_dead_letters(outcomes, tail.dead_letters)
        if all(o.parked for o in outcomes):
            break
        await asyncio.sleep(0.5)
    return match_dead_letters(outcomes, tail.dead_letters)


async def poison_parties(api: Api, city: City, tag: str) -> PoisonContext:
    """A factory and a bystander of their own, so poison touches nobody in the load."""
    eid, site, token = await register_party(
        api, city.admin_token, f"Poison Works {tag}", "FACTORY", "青山区", "30.6100", "114.3100"
    )
    oid, osite, otoken = await register_party(
        api, city.admin_token, f"Bystander {tag}", "FACTORY", "洪山区", "30.5200", "114.3300"
    )
    party = Party(eid, f"Poison Works {tag}", "FACTORY", "青山区", site, token, "kafka")
    other = Party(oid, f"Bystander {tag}", "FACTORY", "洪山区", osite, otoken, "kafka")
    # The ledger must know both sites first, or every report would be UNKNOWN_SITE.
    for p in (party, other):
        await setup_report(
            api, p, "wastex.report.generation", "SW01", Decimal("1.000"), current_period()
        )
    return PoisonContext(party, other, city.regulator_token)


# -- `wastex dlq` as a user runs it ---------------------------------------------------


def wastex_dlq(bootstrap: str, *args: str) -> str:
    """Run `wastex dlq ARGS` in-process, as a user would from the shell (call it from a
    worker thread: the command runs its own event loop)."""
    from typer.testing import CliRunner

    from wastex_cli.main import app

    result = CliRunner().invoke(app, ["dlq", *args, "--bootstrap", bootstrap])
    if result.exit_code != 0:
        raise RuntimeError(f"wastex dlq {' '.join(args)} failed: {result.output[-2000:]}")
    return result.output


@dataclass
class RedriveResult:
    parked_reason: str | None = None
    listed: bool = False
    redriven_before_fix: int = 0
    still_parked_before_fix: bool = False
    redriven_after_fix: int = 0
    accepted_after_fix: bool = False
    entries_after: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.parked_reason == "BALANCE_VIOLATION"
            and self.listed
            and self.still_parked_before_fix
            and self.accepted_after_fix
            and self.entries_after == 1
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "parked_reason": self.parked_reason,
            "listed_by_wastex_dlq": self.listed,
            "redriven_before_fix": self.redriven_before_fix,
            "re_parked_before_fix": self.still_parked_before_fix,
            "redriven_after_fix": self.redriven_after_fix,
            "accepted_after_fix": self.accepted_after_fix,
            "entries_after": self.entries_after,
            "seconds": round(self.seconds, 2),
            "notes": self.notes,
        }


async def redrive_scenario(
    api: Api, city: City, producer: Producer, tail: LogTail, bootstrap: str, tag: str
) -> RedriveResult:
    """A use reported beyond generation is parked (BALANCE_VIOLATION); re-driven before
    the fix it is parked again; after the missing generation is reported, re-driven, it is
    booked, once, however often it is re-driven."""
    from bench.chaos_api import ENTRIES

    result = RedriveResult()
    started = time.monotonic()
    eid, site, token = await register_party(
        api, city.admin_token, f"Redrive Works {tag}", "FACTORY", "江夏区", "30.4000", "114.3200"
    )
    party = Party(eid, f"Redrive Works {tag}", "FACTORY", "江夏区", site, token, "kafka")
    period = current_period()
    await setup_report(api, party, "wastex.report.generation", "SW03", Decimal("10.000"), period)
    event_id = str(uuid.uuid4())
    body = {
        "specversion": "1.0",
        "id": event_id,
        "type": "wastex.report.in-plant-utilisation",
        "source": party.id,
        "time": utcnow().isoformat().replace("+00:00", "Z"),
        "data": {"siteId": site, "wasteCode": "SW03", "tonnes": "25.000", "period": period},
    }
    await producer.send(INGEST_LEDGER_REPORTS.name, _json(body), party.id, auth_header(token))

    async def copies() -> list[DeadLetter]:
        return [d for d in tail.dead_letters if d.event_id == event_id]

    async def wait_copies(n: int, timeout: float = 60.0) -> list[DeadLetter]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = await copies()
            if len({(d.original_topic, d.original_offset) for d in found}) >= n:
                return found
            await asyncio.sleep(0.3)
        return await copies()

    parked = await wait_copies(1)
    if not parked:
        result.notes.append("the over-use report never reached ledger.dlq.v1")
        return result
    result.parked_reason = parked[0].error_type
    listing = await asyncio.to_thread(wastex_dlq, bootstrap, "list", "ledger", "--id", event_id)
    result.listed = event_id in listing and "BALANCE_VIOLATION" in listing
    out = await asyncio.to_thread(wastex_dlq, bootstrap, "redrive", "ledger", "--id", event_id)
    result.redriven_before_fix = _count_redriven(out)
    result.still_parked_before_fix = (
        len({(d.original_topic, d.original_offset) for d in await wait_copies(2)}) >= 2
    )

    await setup_report(api, party, "wastex.report.generation", "SW03", Decimal("20.000"), period)
    out = await asyncio.to_thread(wastex_dlq, bootstrap, "redrive", "ledger", "--id", event_id)
    result.redriven_after_fix = _count_redriven(out)

    async def booked() -> int:
        entries = await api.all_nodes(
            city.regulator_token, ENTRIES, "ledgerEntries", filter={"enterpriseId": party.id}
        )
        return sum(1 for e in entries if e["causeEventId"] == f"{party.id}/{event_id}")

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and await booked() == 0:
        await asyncio.sleep(0.3)
    result.accepted_after_fix = await booked() == 1
    # Re-driving once more must not book it twice.
    await asyncio.to_thread(wastex_dlq, bootstrap, "redrive", "ledger", "--id", event_id)
    await asyncio.sleep(3)
    result.entries_after = await booked()
    result.seconds = time.monotonic() - started
    return result


def _count_redriven(output: str) -> int:
    for line in output.splitlines():
        if line.startswith("re-drove "):
            return int(line.split()[1])
    return 0
