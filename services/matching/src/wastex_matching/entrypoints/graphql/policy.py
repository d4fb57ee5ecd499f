"""Who may see and do what with matches — every such rule of the matching subgraph.

- No token: nothing (queries fail with NOT_AUTHORIZED, subscriptions with UNAUTHENTICATED).
- enterprise / recycler: the matches it is a party to (supplier = the offer's enterprise,
  recycler = the demand's enterprise); only a party may accept or reject, as that party.
- regulator: matches with either party's site in its district (`*`: all); acts on none.
- admin: every match; acts on none (accepting is the parties' business).
- who the other party is (its enterprise id, and the recycler's licence): a party learns it
  once both have agreed (CONFIRMED, then CANCELLED), as the manifest names both; before,
  the match is as anonymous as the catalog's listings. Regulators and admins see both.
- `offerPosted`, `offerChanged`: tenants only, and only other enterprises' offers of codes
  their licences valid today permit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from graphql import GraphQLError
from wastex_matching.adapters.repository import MatchRecord, MatchScope
from wastex_matching.domain import lifecycle
from wastex_matching.domain.lifecycle import Party
from wastex_matching.domain.model import LicenceView
from wastex_shared.auth import ALL_DISTRICTS, Principal, Role
from wastex_shared.errors import NotAuthorized, NotFound
from wastex_shared.events.matching import MatchFacts
from wastex_shared.graphql.context import Context


def caller(context: Context) -> Principal:
    """The signed-in caller of a query or mutation (NOT_AUTHORIZED without a token)."""
    return context.require_principal()


def may_see(principal: Principal, match: MatchRecord) -> bool:
    parties = (match.supplier_enterprise_id, match.recycler_enterprise_id)
    return _sees(principal, parties, (match.supplier_district, match.recycler_district))


def might_see(principal: Principal, facts: MatchFacts) -> bool:
    """Whether a match event may be the subscriber's, from the event alone: a subscription
    reads the match only then, not once per subscriber and event (a round proposes
    hundreds). `may_see` on the stored match decides."""
    districts = (facts.supplier_district, facts.recycler_district)
    if principal.role is Role.REGULATOR and None in districts:
        return True  # an event from before districts were carried: the stored match says
    parties = (facts.supplier_enterprise_id, facts.recycler_enterprise_id)
    return _sees(principal, parties, [d for d in districts if d is not None])


def _sees(principal: Principal, parties: tuple[str, str], districts: Iterable[str]) -> bool:
    """The rule: an admin sees every match, a tenant those it is a party to, a regulator
    those with a party's site in its district."""
    if principal.role is Role.ADMIN:
        return True
    if principal.is_tenant:
        return principal.enterprise_id in parties
    return any(principal.oversees(district) for district in districts)


def _sees_every_match(principal: Principal) -> bool:
    return principal.role is Role.ADMIN or (
        principal.role is Role.REGULATOR and principal.district == ALL_DISTRICTS
    )


def visible(principal: Principal, match_id: str, match: MatchRecord | None) -> MatchRecord:
    """The match, if the caller may see it. A match that is not there and one that is not
    the caller's get one answer (NOT_AUTHORIZED): match ids derive from public listing ids,
    so two answers would tell anyone which pairs were proposed. Who sees every match (an
    admin, a city-wide regulator) is told NOT_FOUND."""
    if match is not None and may_see(principal, match):
        return match
    if match is None and _sees_every_match(principal):
        raise NotFound("match", match_id)
    raise NotAuthorized(f"match {match_id} is not yours to see")


def list_scope(principal: Principal, enterprise_id: str | None) -> MatchScope:
    """What `matches` may return; asking for another tenant's matches is NOT_AUTHORIZED."""
    if _sees_every_match(principal):
        return MatchScope(everything=True)
    if principal.is_tenant:
        own = principal.enterprise_id or ""
        if enterprise_id is not None and enterprise_id != own:
            raise NotAuthorized("you may list only your own enterprise's matches", "enterpriseId")
        return MatchScope(enterprise_ids=frozenset({own}))
    return MatchScope(districts=frozenset({principal.district or ""}))


@dataclass(frozen=True, slots=True)
class PartiesShown:
    """The party ids a caller is shown on a match (None: not theirs to know yet)."""

    supplier_enterprise_id: str | None
    recycler_enterprise_id: str | None
    licence_id: str | None


def parties_shown(principal: Principal, match: MatchRecord) -> PartiesShown:
    """A tenant sees its own side, and the other's only once both have agreed: listings
    are anonymous (the catalog names no other party), and a proposal naming its
    counterparty would tie each listing to its owner."""
    everything = PartiesShown(
        match.supplier_enterprise_id, match.recycler_enterprise_id, match.licence_id
    )
    if not principal.is_tenant or lifecycle.is_agreed(match.status):
        return everything
    if principal.acts_for(match.supplier_enterprise_id):
        return PartiesShown(match.supplier_enterprise_id, None, None)
    return PartiesShown(None, match.recycler_enterprise_id, match.licence_id)


def acting_party(principal: Principal, match: MatchRecord) -> Party:
    """The side `principal` acts for on `match`; only the two parties may act."""
    if principal.acts_for(match.supplier_enterprise_id):
        return Party.SUPPLIER
    if principal.acts_for(match.recycler_enterprise_id):
        return Party.RECYCLER
    raise NotAuthorized("only the supplier or the recycler of a match may accept or reject it")


def offer_watcher(principal: Principal) -> str:
    """The enterprise whose licences filter `offerPosted` and `offerChanged` (tenants only)."""
    if not principal.is_tenant or principal.enterprise_id is None:
        raise GraphQLError(
            "offer subscriptions are for enterprises that take waste in (their licences "
            "filter the offers)",
            extensions={"code": "NOT_AUTHORIZED"},
        )
    return principal.enterprise_id


def licences_permit(licences: Iterable[LicenceView], code: str, today: date) -> bool:
    """Whether any of the caller's licences valid today may take `code`."""
    return any(
        lic.may_take(code) and lic.valid_from <= today <= lic.valid_until for lic in licences
    )
