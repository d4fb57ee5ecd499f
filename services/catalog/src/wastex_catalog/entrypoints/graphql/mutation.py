"""The catalog's mutations: policy check, then the same use case the Kafka ingest calls.

Every payload is `{ <entity> userErrors { field message code } }`: a refused call (not
allowed, invalid input, a broken rule) answers with userErrors and a null entity, never a
GraphQL error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import TypeVar

import strawberry

from wastex_catalog import domain
from wastex_catalog.entrypoints.graphql import policy
from wastex_catalog.entrypoints.graphql.context import principal, services, transact
from wastex_catalog.entrypoints.graphql.inputs import (
    AddSiteInput,
    AmendDemandInput,
    AmendEnterpriseInput,
    AmendLicenceInput,
    AmendOfferInput,
    AmendSiteInput,
    PostDemandInput,
    PostOfferInput,
    RegisterEnterpriseInput,
    RegisterLicenceInput,
)
from wastex_catalog.entrypoints.graphql.types import Demand, Enterprise, Licence, Offer, Site
from wastex_catalog.records import Stored
from wastex_catalog.service import CatalogService, RevokeLicence
from wastex_shared.auth import Principal
from wastex_shared.errors import DomainError
from wastex_shared.graphql.context import Info
from wastex_shared.graphql.errors import UserError
from wastex_shared.storage import UnitOfWork

T = TypeVar("T")


async def attempt(
    info: Info, allowed: Callable[[], object], work: Callable[[UnitOfWork], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Check the policy, run the use case in its own unit of work, turn refusals into
    userErrors."""
    try:
        allowed()
        return await transact(info, work), []
    except DomainError as err:
        return None, [UserError.of(err)]


def subject(caller: Principal | None) -> str | None:
    """Who acts, as a licence's or an enterprise's history names them: the token's
    subject."""
    return None if caller is None else caller.subject


async def as_owner(
    info: Info, work: Callable[[CatalogService, UnitOfWork, str], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Run an offer's or a demand's use case for the enterprise the caller acts for, as the
    listing's owner (refused for a caller acting for none)."""
    caller = principal(info)
    commands = services(info).commands
    return await attempt(
        info,
        lambda: policy.acting_enterprise(caller),
        lambda uow: work(commands, uow, policy.acting_enterprise(caller)),
    )


def offer_shown(info: Info, stored: Stored[domain.Offer] | None) -> Offer | None:
    """The offer a mutation answers with, as much of it as the caller may see."""
    if stored is None:
        return None
    return Offer.of(stored, policy.can_read_offer(principal(info), stored))


def demand_shown(info: Info, stored: Stored[domain.Demand] | None) -> Demand | None:
    """The demand a mutation answers with, as much of it as the caller may see."""
    if stored is None:
        return None
    return Demand.of(stored, policy.can_read_demand(principal(info), stored))


@strawberry.type
class RegisterEnterprisePayload:
    enterprise: Enterprise | None
    user_errors: list[UserError]


@strawberry.type
class AmendEnterprisePayload:
    enterprise: Enterprise | None
    user_errors: list[UserError]


@strawberry.type
class AddSitePayload:
    site: Site | None
    user_errors: list[UserError]


@strawberry.type
class AmendSitePayload:
    site: Site | None
    user_errors: list[UserError]


@strawberry.type
class RegisterLicencePayload:
    licence: Licence | None
    user_errors: list[UserError]


@strawberry.type
class AmendLicencePayload:
    licence: Licence | None
    user_errors: list[UserError]


@strawberry.type
class RevokeLicencePayload:
    licence: Licence | None
    user_errors: list[UserError]


@strawberry.type
class PostOfferPayload:
    offer: Offer | None
    user_errors: list[UserError]


@strawberry.type
class WithdrawOfferPayload:
    offer: Offer | None
    user_errors: list[UserError]


@strawberry.type
class AmendOfferPayload:
    offer: Offer | None
    user_errors: list[UserError]


@strawberry.type
class PostDemandPayload:
    demand: Demand | None
    user_errors: list[UserError]


@strawberry.type
class WithdrawDemandPayload:
    demand: Demand | None
    user_errors: list[UserError]


@strawberry.type
class AmendDemandPayload:
    demand: Demand | None
    user_errors: list[UserError]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Register an enterprise (admin) in a district of the city's register."
    )
    async def register_enterprise(
        self, info: Info, input: RegisterEnterpriseInput
    ) -> RegisterEnterprisePayload:
        caller = principal(info)
        commands = services(info).commands
        stored, errors = await attempt(
            info,
            lambda: policy.may_register_enterprise(caller),
            lambda uow: commands.register_enterprise(uow, input.command(subject(caller))),
        )
        return RegisterEnterprisePayload(
            enterprise=Enterprise.of(stored) if stored else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Correct an enterprise's name, industry or registered district (admin), "
        "saying why. Ledger entries booked before keep the industry and district they were "
        "booked under; its sites stay where they are."
    )
    async def amend_enterprise(
        self, info: Info, id: strawberry.ID, input: AmendEnterpriseInput
    ) -> AmendEnterprisePayload:
        caller = principal(info)
        commands = services(info).commands
        stored, errors = await attempt(
            info,
            lambda: policy.may_register_enterprise(caller),
            lambda uow: commands.amend_enterprise(uow, input.command(str(id), subject(caller))),
        )
        return AmendEnterprisePayload(
            enterprise=Enterprise.of(stored) if stored else None, user_errors=errors
        )

    @strawberry.mutation(
        description=(
            "Add a site to an enterprise: the enterprise itself, in the district it is "
            "registered in (its regulator's), or an admin, in any district of the register."
        )
    )
    async def add_site(self, info: Info, input: AddSiteInput) -> AddSitePayload:
        caller = principal(info)
        commands = services(info).commands
        stored, errors = await attempt(
            info,
            lambda: policy.may_add_site(caller, input.enterprise_id),
            lambda uow: commands.add_site(
                uow, input.command(policy.is_admin(caller), subject(caller))
            ),
        )
        return AddSitePayload(site=Site.of(stored) if stored else None, user_errors=errors)

    @strawberry.mutation(
        description=(
            "Correct a site's name, district or coordinates, saying why: its enterprise "
            "(within the district it is registered in) or an admin. Its live offers and "
            "demands are matched from where it now lies; ledger entries booked before keep "
            "the district they were booked under."
        )
    )
    async def amend_site(
        self, info: Info, id: strawberry.ID, input: AmendSiteInput
    ) -> AmendSitePayload:
        caller = principal(info)
        commands = services(info).commands
        stored, errors = await attempt(
            info,
            lambda: policy.may_amend_site(caller),
            lambda uow: commands.amend_site(
                uow, input.command(str(id), policy.site_owner(caller), subject(caller))
            ),
        )
        return AmendSitePayload(site=Site.of(stored) if stored else None, user_errors=errors)

    @strawberry.mutation(description="Register a licence of an enterprise (admin).")
    async def register_licence(
        self, info: Info, input: RegisterLicenceInput
    ) -> RegisterLicencePayload:
        caller = principal(info)
        commands = services(info).commands
        stored, errors = await attempt(
            info,
            lambda: policy.may_manage_licences(caller),
            lambda uow: commands.register_licence(uow, input.command(subject(caller))),
        )
        return RegisterLicencePayload(
            licence=Licence.of(stored) if stored else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Correct a licence's codes, tonnage or validity (admin), saying why; matching "
        "re-plans with it and ends unconfirmed matches it no longer allows."
    )
    async def amend_licence(
        self, info: Info, id: strawberry.ID, input: AmendLicenceInput
    ) -> AmendLicencePayload:
        caller = principal(info)
        commands = services(info).commands
        stored, errors = await attempt(
            info,
            lambda: policy.may_manage_licences(caller),
            lambda uow: commands.amend_licence(uow, input.command(str(id), subject(caller))),
        )
        return AmendLicencePayload(
            licence=Licence.of(stored) if stored else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Record a licence's revocation (admin) from effectiveFrom (today by default, "
        "never a past day): it holds up to the day before; matching ends unconfirmed matches "
        "that need it after that."
    )
    async def revoke_licence(
        self, info: Info, id: strawberry.ID, reason: str, effective_from: date | None = None
    ) -> RevokeLicencePayload:
        caller = principal(info)
        commands = services(info).commands
        command = RevokeLicence(
            licence_id=str(id),
            reason=reason,
            effective_from=effective_from,
            by=subject(caller),
        )
        stored, errors = await attempt(
            info,
            lambda: policy.may_manage_licences(caller),
            lambda uow: commands.revoke_licence(uow, command),
        )
        return RevokeLicencePayload(
            licence=Licence.of(stored) if stored else None, user_errors=errors
        )

    @strawberry.mutation(description="Offer waste lying at one of your sites.")
    async def post_offer(self, info: Info, input: PostOfferInput) -> PostOfferPayload:
        stored, errors = await as_owner(
            info,
            lambda commands, uow, owner: commands.post_offer(uow, input.command(), owner=owner),
        )
        return PostOfferPayload(offer=offer_shown(info, stored), user_errors=errors)

    @strawberry.mutation(
        description="Take one of your offers off the market, a fully matched one too: matching "
        "then rejects its matches accepted by one side only (the other party is told why); "
        "confirmed ones stay (call their shipments off with cancelShipment)."
    )
    async def withdraw_offer(self, info: Info, id: strawberry.ID) -> WithdrawOfferPayload:
        stored, errors = await as_owner(
            info,
            lambda commands, uow, owner: commands.withdraw_offer(uow, id, owner=owner),
        )
        return WithdrawOfferPayload(offer=offer_shown(info, stored), user_errors=errors)

    @strawberry.mutation(
        description="Change the quantity, window or description of one of your offers without "
        "taking it off the market; accepted matches keep their tonnes, proposals are re-planned."
    )
    async def amend_offer(
        self, info: Info, id: strawberry.ID, input: AmendOfferInput
    ) -> AmendOfferPayload:
        stored, errors = await as_owner(
            info,
            lambda commands, uow, owner: commands.amend_offer(
                uow, input.command(str(id)), owner=owner
            ),
        )
        return AmendOfferPayload(offer=offer_shown(info, stored), user_errors=errors)

    @strawberry.mutation(
        description="Ask for waste your licences cover, at one of your sites: they must cover "
        "each code on the window's first day from today (else LICENCE_EXPIRED, "
        "LICENCE_NOT_YET_VALID or LICENCE_REVOKED on wasteCodes). The window may run past "
        "them: the demand then shows the last day they cover it (licensedUntil) and, when "
        "that ends a licence's term, waits for the renewal until awaitsRenewalUntil."
    )
    async def post_demand(self, info: Info, input: PostDemandInput) -> PostDemandPayload:
        stored, errors = await as_owner(
            info,
            lambda commands, uow, owner: commands.post_demand(uow, input.command(), owner=owner),
        )
        return PostDemandPayload(demand=demand_shown(info, stored), user_errors=errors)

    @strawberry.mutation(
        description="Take one of your demands off the market, a fully matched one too: matching "
        "then rejects its matches accepted by one side only (the other party is told why); "
        "confirmed ones stay (call their shipments off with cancelShipment)."
    )
    async def withdraw_demand(self, info: Info, id: strawberry.ID) -> WithdrawDemandPayload:
        stored, errors = await as_owner(
            info,
            lambda commands, uow, owner: commands.withdraw_demand(uow, id, owner=owner),
        )
        return WithdrawDemandPayload(demand=demand_shown(info, stored), user_errors=errors)

    @strawberry.mutation(
        description="Change the quantity, radius or window of one of your demands without taking "
        "it off the market; accepted matches keep their tonnes, proposals are re-planned."
    )
    async def amend_demand(
        self, info: Info, id: strawberry.ID, input: AmendDemandInput
    ) -> AmendDemandPayload:
        stored, errors = await as_owner(
            info,
            lambda commands, uow, owner: commands.amend_demand(
                uow, input.command(str(id)), owner=owner
            ),
        )
        return AmendDemandPayload(demand=demand_shown(info, stored), user_errors=errors)
