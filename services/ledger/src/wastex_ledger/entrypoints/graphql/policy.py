"""Who may see or do what in the ledger — every such rule, in one place.

- enterprise / recycler: writes reports and reversals on its own sites, dispatches as the
  supplier, receives as the recycler; reads its own entries, manifests, figures, assessments.
- regulator of district d: writes nothing; reads entries, manifests and figures of d and of
  enterprises registered in d ('*' = every district).
- admin: writes nothing in the ledger; reads everything.
- no token: nothing (subscriptions: UNAUTHENTICATED).
- `manifestChanged` pushes a manifest to whoever `manifest(id)` shows it to.

Another tenant's data is NOT_AUTHORIZED, never a partial answer. The use cases themselves
check that the acting enterprise owns the site, entry or side of the manifest it touches;
this module decides which enterprise (if any) a caller acts as and what it may read.
City-wide, industry and waste-code scopes span districts, so only admins and regulators
with '*' may ask for them; a district regulator asks for `{district, industry}` or
`{district, wasteCode}` instead. The league table of enterprises (`enterpriseUtilisation`)
is a regulator's tool: a district regulator ranks the enterprises registered in its own
district, a '*' regulator or an admin those of any district or of the whole city; tenants
may not rank other enterprises.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import NoReturn

from wastex_ledger.domain.entries import Entry
from wastex_ledger.domain.scope import Scope, ScopeKind
from wastex_ledger.domain.visibility import ManifestView, Reach
from wastex_shared.auth import ALL_DISTRICTS, Principal, Role
from wastex_shared.errors import NotAuthorized, NotFound
from wastex_shared.events.ledger import ManifestFacts

DistrictOf = Callable[[str], Awaitable[str | None]]

_ENTERPRISE_SCOPES = frozenset({ScopeKind.ENTERPRISE, ScopeKind.ENTERPRISE_CODE})
_DISTRICT_SCOPES = frozenset(
    {ScopeKind.DISTRICT, ScopeKind.DISTRICT_INDUSTRY, ScopeKind.DISTRICT_CODE}
)


def _signed_in(principal: Principal | None) -> Principal:
    if principal is None:
        raise NotAuthorized("sign in: this needs an 'Authorization: Bearer <token>' header")
    return principal


def _sees_everything(principal: Principal) -> bool:
    return principal.role is Role.ADMIN or (
        principal.role is Role.REGULATOR and principal.district == ALL_DISTRICTS
    )


def acting_enterprise(principal: Principal | None) -> str:
    """The enterprise a caller writes the ledger for: only tenants write, for themselves."""
    caller = _signed_in(principal)
    if not caller.is_tenant or not caller.enterprise_id:
        raise NotAuthorized(f"{caller.role.spoken} token cannot write to the ledger")
    return caller.enterprise_id


def reach(principal: Principal | None) -> Reach:
    """The rows a caller's list queries may return."""
    caller = _signed_in(principal)
    if _sees_everything(caller):
        return Reach.all()
    if caller.is_tenant and caller.enterprise_id:
        return Reach.enterprise(caller.enterprise_id)
    if caller.role is Role.REGULATOR and caller.district:
        return Reach.of_district(caller.district)
    raise NotAuthorized()


async def require_enterprise(
    principal: Principal | None, enterprise_id: str, district_of: DistrictOf
) -> None:
    """The caller may read `enterprise_id`'s ledger (figures, assessment, lists)."""
    caller = _signed_in(principal)
    if _sees_everything(caller) or caller.acts_for(enterprise_id):
        return
    await _require_overseen(caller, enterprise_id, district_of)


async def require_enterprise_figures(
    principal: Principal | None, enterprise_id: str, district_of: DistrictOf, field: str
) -> None:
    """`require_enterprise` for an enterprise's figures or assessment: who reads everything
    is told NOT_FOUND for an enterprise the ledger does not know (a mistyped id would read as
    zeros, and fail the zero-waste assessment); a tenant reads its own even before the
    catalog's registration reaches the ledger."""
    caller = _signed_in(principal)
    if caller.acts_for(enterprise_id):
        return
    if _sees_everything(caller):
        if await district_of(enterprise_id) is None:
            raise NotFound("enterprise", enterprise_id, field)
        return
    await _require_overseen(caller, enterprise_id, district_of)


async def _require_overseen(caller: Principal, enterprise_id: str, district_of: DistrictOf) -> None:
    if caller.role is Role.REGULATOR:
        district = await district_of(enterprise_id)
        if district is not None and caller.oversees(district):
            return
    raise NotAuthorized(f"enterprise {enterprise_id} is outside what this token may read")


async def require_scope(principal: Principal | None, scope: Scope, district_of: DistrictOf) -> None:
    """The caller may read the figures of `scope` (validates the scope's shape first)."""
    kind = scope.kind
    caller = _signed_in(principal)
    if kind in _ENTERPRISE_SCOPES:
        assert scope.enterprise_id is not None
        await require_enterprise_figures(caller, scope.enterprise_id, district_of, "scope")
        return
    if _sees_everything(caller):
        return
    if kind in _DISTRICT_SCOPES and scope.district is not None and caller.oversees(scope.district):
        return
    raise NotAuthorized(f"the {kind} scope is outside what this token may read", "scope")


def league_district(principal: Principal | None, district: str | None) -> str | None:
    """The district whose registered enterprises the caller ranks (None: the whole city).
    A district regulator's is its own, whether it names it or not."""
    caller = _signed_in(principal)
    if _sees_everything(caller):
        return district
    if caller.role is Role.REGULATOR and caller.district:
        if district is None or district == caller.district:
            return caller.district
        raise NotAuthorized(f"district {district} is outside what this token may read", "district")
    raise NotAuthorized("only regulators and admins rank enterprises")


async def require_list_filter(
    principal: Principal | None, enterprise_id: str | None, district_of: DistrictOf
) -> Reach:
    """A list's reach; a tenant's filter naming another enterprise is refused. A
    regulator's filter only narrows its reach: an enterprise registered elsewhere with
    works in the regulator's district lists those works' rows (the unfiltered list shows
    them too), one with nothing there lists none."""
    allowed = reach(principal)
    if enterprise_id is not None and _signed_in(principal).role is not Role.REGULATOR:
        await require_enterprise(principal, enterprise_id, district_of)
    return allowed


def absent(principal: Principal | None, what: str, ident: str) -> NoReturn:
    """A manifest or entry that is not there: NOT_FOUND for who reads everything (an admin,
    a city-wide regulator); anyone else gets the answer a record outside its reach gets.
    Their ids derive from match ids, which derive from public listing ids: two answers
    would tell anyone which pairs were confirmed and shipped."""
    caller = _signed_in(principal)
    if _sees_everything(caller):
        raise NotFound(what, ident)
    raise NotAuthorized(f"{what} {ident} is outside what this token may read")


async def require_entry(principal: Principal | None, entry: Entry, district_of: DistrictOf) -> None:
    """The caller may read `entry`: its enterprise's, or a regulator's of the district the
    entry is in or the enterprise is registered in."""
    caller = _signed_in(principal)
    if _sees_everything(caller) or caller.acts_for(entry.enterprise_id):
        return
    if caller.oversees(entry.district):
        return
    if caller.role is Role.REGULATOR:
        registered = await district_of(entry.enterprise_id)
        if registered is not None and caller.oversees(registered):
            return
    raise NotAuthorized(f"entry {entry.id} is outside what this token may read")


def require_manifest(principal: Principal | None, view: ManifestView) -> None:
    if not may_see_manifest(_signed_in(principal), view):
        raise NotAuthorized(f"manifest {view.manifest.id} is outside what this token may read")


def may_see_manifest(principal: Principal, view: ManifestView) -> bool:
    """Whether the caller may read the manifest as stored (`manifest`, `manifestChanged`)."""
    manifest = view.manifest
    parties = (manifest.supplier, manifest.recycler)
    districts = (view.supplier_district, view.recycler_district, *view.registered_districts)
    return _sees_manifest(principal, parties, districts)


def might_see_manifest(principal: Principal, facts: ManifestFacts) -> bool:
    """Whether a manifest event may be the subscriber's, from the event alone: a
    subscription reads the manifest only then, not once per subscriber and event. The
    event names the parties but not their districts, so a district regulator reads the
    stored manifest (`may_see_manifest` on it decides)."""
    if principal.role is Role.REGULATOR:
        return True
    parties = (facts.supplier_enterprise_id, facts.recycler_enterprise_id)
    return _sees_manifest(principal, parties, ())


def _sees_manifest(
    principal: Principal, parties: tuple[str, str], districts: Iterable[str | None]
) -> bool:
    """The rule: who reads everything sees every manifest, a tenant those it is a party
    to, a regulator those with a party's site in its district or a party registered there."""
    if _sees_everything(principal):
        return True
    if principal.is_tenant and principal.enterprise_id and principal.enterprise_id in parties:
        return True
    return any(district is not None and principal.oversees(district) for district in districts)
