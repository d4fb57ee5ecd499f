"""Helpers for matching's tests: catalog events as the catalog would publish them, fake
Kafka records to feed the consumer, a fixed clock and an in-process GraphQL client."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic.alias_generators import to_camel

from wastex_shared.auth import JwtConfig, Role, issue_token
from wastex_shared.envelope import Envelope
from wastex_shared.events import spec_for
from wastex_shared.events.catalog import (
    DemandAmended,
    DemandPosted,
    DemandWithdrawn,
    EnterpriseAmended,
    EnterpriseRegistered,
    LicenceAmended,
    LicenceRegistered,
    OfferAmended,
    OfferPosted,
    OfferUpdated,
    OfferWithdrawn,
    SiteAdded,
    SiteAmended,
)
from wastex_shared.messaging import EventConsumer

#: Tests run on a fixed day (Wuhan time): windows below are relative to it.
TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 09:00 in Wuhan


def fixed_clock() -> datetime:
    return NOW


#: Places in and around Wuhan (lat, lon).
QINGSHAN_STEEL = (Decimal("30.640000"), Decimal("114.410000"))
JIANGXIA_CEMENT = (Decimal("30.360000"), Decimal("114.300000"))  # ~43 km by road
HONGSHAN_BRICKS = (Decimal("30.500000"), Decimal("114.400000"))  # ~20 km by road
XINZHOU_KILN = (Decimal("30.840000"), Decimal("114.800000"))  # ~57 km by road


@dataclass
class FakeRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()
    timestamp: int = -1
    timestamp_type: int = 0


@dataclass
class Catalog:
    """Builds catalog events (the facts matching consumes) with sensible defaults."""

    today: date = TODAY
    _offsets: itertools.count[int] = field(default_factory=itertools.count)

    def _event(self, event_type: str, subject: str, data: Any) -> Envelope:
        return Envelope.new(event_type, "catalog", subject, data)

    def enterprise(
        self, ident: str, name: str, district: str = "青山区", kind: str = "FACTORY"
    ) -> Envelope:
        return self._event(
            "catalog.enterprise-registered",
            ident,
            EnterpriseRegistered(
                enterprise_id=ident,
                name=name,
                credit_code=f"91420100{abs(hash(ident)) % 10**10:010d}",
                industry="C3120" if kind == "FACTORY" else "C3011",
                district=district,
                kind=kind,
            ),
        )

    def amended_enterprise(
        self, ident: str, name: str, district: str, version: int, kind: str = "FACTORY"
    ) -> Envelope:
        """The catalog's `enterprise-amended` fact (the registration's codes, a new name or
        district)."""
        registered = EnterpriseRegistered.model_validate(
            self.enterprise(ident, name, district, kind).data
        )
        amended = EnterpriseAmended(**registered.model_dump(), reason="corrected")
        return self._event(
            "catalog.enterprise-amended", ident, amended.model_copy(update={"version": version})
        )

    def site(
        self, ident: str, enterprise_id: str, place: tuple[Decimal, Decimal], district: str
    ) -> Envelope:
        return self._event(
            "catalog.site-added",
            ident,
            SiteAdded(
                site_id=ident,
                enterprise_id=enterprise_id,
                name=f"site {ident}",
                district=district,
                latitude=place[0],
                longitude=place[1],
                industry="C3120",
                enterprise_district=district,
            ),
        )

    def site_amended(
        self,
        ident: str,
        enterprise_id: str,
        place: tuple[Decimal, Decimal],
        district: str,
        version: int,
    ) -> Envelope:
        """The catalog's `site-amended` fact (the site as it now stands: moved, renamed or
        its district corrected)."""
        added = SiteAdded.model_validate(self.site(ident, enterprise_id, place, district).data)
        amended = SiteAmended(**added.model_dump(), reason="surveyed again")
        return self._event(
            "catalog.site-amended", ident, amended.model_copy(update={"version": version})
        )

    def licence(
        self,
        ident: str,
        enterprise_id: str,
        codes: Sequence[str],
        capacity: str = "50000",
        valid_from: date = date(2026, 1, 1),
        valid_until: date = date(2028, 12, 31),
        licence_type: str = "GENERAL_UTILISATION",
    ) -> Envelope:
        return self._event(
            "catalog.licence-registered",
            ident,
            LicenceRegistered(
                licence_id=ident,
                enterprise_id=enterprise_id,
                number=f"LIC-{ident}",
                waste_codes=list(codes),
                annual_capacity_tonnes=Decimal(capacity),
                valid_from=valid_from,
                valid_until=valid_until,
                licence_type=licence_type,
            ),
        )

    def amended_licence(
        self,
        ident: str,
        enterprise_id: str,
        codes: Sequence[str],
        version: int,
        revoked_on: date | None = None,
        valid_until: date = date(2028, 12, 31),
        capacity: str = "50000",
        valid_from: date = date(2026, 1, 1),
    ) -> Envelope:
        """The catalog's `licence-amended` fact (valid from 2026 unless told otherwise)."""
        return self._event(
            "catalog.licence-amended",
            ident,
            LicenceAmended(
                licence_id=ident,
                enterprise_id=enterprise_id,
                number=f"LIC-{ident}",
                waste_codes=list(codes),
                annual_capacity_tonnes=Decimal(capacity),
                valid_from=valid_from,
                valid_until=valid_until,
                licence_type="GENERAL_UTILISATION",
                revoked_on=revoked_on,
                version=version,
                reason="revoked" if revoked_on else "amended",
            ),
        )

    def offer(
        self,
        ident: str,
        enterprise_id: str,
        site_id: str,
        place: tuple[Decimal, Decimal],
        code: str = "SW01",
        tonnes: str = "100.000",
        district: str = "青山区",
        available_from: date = date(2026, 12, 1),
        available_until: date = date(2027, 1, 31),
    ) -> Envelope:
        return self._event(
            "catalog.offer-posted",
            ident,
            OfferPosted(
                offer_id=ident,
                enterprise_id=enterprise_id,
                site_id=site_id,
                district=district,
                latitude=place[0],
                longitude=place[1],
                waste_code=code,
                hazardous=code.startswith("HW"),
                quantity_tonnes=Decimal(tonnes),
                available_from=available_from,
                available_until=available_until,
                description="test offer",
            ),
        )

    def demand(
        self,
        ident: str,
        enterprise_id: str,
        site_id: str,
        place: tuple[Decimal, Decimal],
        codes: Sequence[str] = ("SW01",),
        tonnes: str = "500.000",
        max_km: str = "80",
        district: str = "江夏区",
        available_from: date = date(2026, 12, 1),
        available_until: date = date(2027, 6, 30),
    ) -> Envelope:
        return self._event(
            "catalog.demand-posted",
            ident,
            DemandPosted(
                demand_id=ident,
                enterprise_id=enterprise_id,
                site_id=site_id,
                district=district,
                latitude=place[0],
                longitude=place[1],
                waste_codes=list(codes),
                hazardous=any(code.startswith("HW") for code in codes),
                quantity_tonnes=Decimal(tonnes),
                max_distance_km=Decimal(max_km),
                available_from=available_from,
                available_until=available_until,
            ),
        )

    def amended(
        self, posted: Envelope, version: int = 2, matched: str = "0", **changes: Any
    ) -> Envelope:
        """The catalog's `offer-amended` or `demand-amended` fact of the listing `posted` (an
        `offer` or `demand` of this builder): its terms with `changes` (by field name, e.g.
        `quantity_tonnes="80"`) at `version`, `matched` tonnes held by accepted matches."""
        posting: OfferPosted | DemandPosted
        if posted.type == "catalog.offer-posted":
            kind, posting = "offer", OfferPosted.model_validate(posted.data)
        else:
            kind, posting = "demand", DemandPosted.model_validate(posted.data)
        terms = posting.model_dump() | changes | {"version": version}
        facts = dict(
            changed=[to_camel(name) for name in changes],
            matched_tonnes=Decimal(matched),
            remaining_tonnes=Decimal(terms["quantity_tonnes"]) - Decimal(matched),
        )
        amendment = (OfferAmended if kind == "offer" else DemandAmended)(**terms, **facts)
        return self._event(f"catalog.{kind}-amended", posted.key, amendment)

    def offer_withdrawn(
        self, ident: str, enterprise_id: str, version: int = 2, code: str | None = None
    ) -> Envelope:
        """The catalog's `offer-withdrawn` fact; `code` None as the catalog published it
        before it carried the code."""
        return self._event(
            "catalog.offer-withdrawn",
            ident,
            OfferWithdrawn(
                offer_id=ident,
                enterprise_id=enterprise_id,
                remaining_tonnes=Decimal("0"),
                version=version,
                waste_code=code,
            ),
        )

    def offer_updated(
        self,
        ident: str,
        enterprise_id: str,
        status: str,
        quantity: str,
        version: int,
        code: str | None = None,
    ) -> Envelope:
        """The catalog's `offer-updated` fact; `code` None as the catalog published it
        before it carried the code."""
        return self._event(
            "catalog.offer-updated",
            ident,
            OfferUpdated(
                offer_id=ident,
                enterprise_id=enterprise_id,
                status=status,
                quantity_tonnes=Decimal(quantity),
                matched_tonnes=Decimal("0"),
                remaining_tonnes=Decimal(quantity),
                reason="EXPIRED" if status == "EXPIRED" else "RELEASED",
                version=version,
                waste_code=code,
            ),
        )

    def demand_withdrawn(self, ident: str, enterprise_id: str, version: int = 2) -> Envelope:
        return self._event(
            "catalog.demand-withdrawn",
            ident,
            DemandWithdrawn(
                demand_id=ident,
                enterprise_id=enterprise_id,
                remaining_tonnes=Decimal("0"),
                version=version,
            ),
        )

    def records(self, envelopes: Sequence[Envelope]) -> list[FakeRecord]:
        out = []
        for envelope in envelopes:
            spec = spec_for(envelope.type)
            assert spec is not None, envelope.type
            out.append(
                FakeRecord(
                    topic=spec.topic.name,
                    partition=0,
                    offset=next(self._offsets),
                    key=envelope.key.encode(),
                    value=envelope.to_json(),
                )
            )
        return out

    async def feed(self, consumer: EventConsumer, *envelopes: Envelope) -> None:
        """Hand `envelopes` to the consumer as one Kafka batch."""
        await consumer.handle_batch(self.records(envelopes))


MATCH_FIELDS = """
  id status tonnes distanceKm co2eKg avoidedCo2eKg avoidedFactorKey freightFactorKey
  freightFactorKgPerTkm freightFactorSource wasteCode licenceId windowFrom windowUntil
  supplierEnterpriseId recyclerEnterpriseId supplierDistrict recyclerDistrict
  acceptedBySupplier acceptedByRecycler rejectedBy rejectionReason expiryReason explanation
  offer { id } demand { id }
  alternatives { demand { id } reason distanceKm detail }
"""
MATCHES = (
    "query($filter: MatchFilter, $first: Int, $after: String) {"
    " matches(filter: $filter, first: $first, after: $after) {"
    " totalCount pageInfo { hasNextPage endCursor }"
    f" edges {{ cursor node {{ {MATCH_FIELDS} }} }} }} }}"
)
MATCH = f"query($id: ID!) {{ match(id: $id) {{ {MATCH_FIELDS} }} }}"
ACCEPT = (
    "mutation($id: ID!) { acceptMatch(id: $id) {"
    " match { id status acceptedBySupplier acceptedByRecycler }"
    " userErrors { field message code } } }"
)
REJECT = (
    "mutation($id: ID!, $reason: String!) { rejectMatch(id: $id, reason: $reason) {"
    " match { id status rejectedBy rejectionReason } userErrors { field message code } } }"
)


class Api:
    """GraphQL over an in-process ASGI app, as a given caller."""

    def __init__(self, http: httpx.AsyncClient, jwt: JwtConfig, token: str | None = None):
        self._http = http
        self._jwt = jwt
        self.token = token

    def as_(self, role: Role, enterprise_id: str | None = None, district: str | None = None) -> Api:
        return Api(self._http, self._jwt, issue_token(self._jwt, role, enterprise_id, district))

    def anonymous(self) -> Api:
        return Api(self._http, self._jwt, None)

    async def execute(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self._http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.execute(query, **variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data
