"""GraphQL types of the league table (`enterpriseUtilisation`): one row per enterprise."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

from wastex_ledger.adapters.league import cursor_of
from wastex_ledger.domain.league import Standing
from wastex_ledger.domain.scope import WasteClass
from wastex_ledger.entrypoints.graphql.types import UtilisationRateType
from wastex_shared.graphql.connection import Connection, connection


# The catalog's entity; no description here, or composition would take it for the catalog's.
@strawberry.federation.type(keys=["id"], name="Enterprise")
class EnterpriseRef:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, **_: object) -> EnterpriseRef:
        return cls(id=id)


@strawberry.type(
    name="EnterpriseUtilisation",
    description=(
        "An enterprise registered in the district (the ledger's record of the catalog's "
        "registration) and its figures over the months asked: exactly what `utilisation` "
        "answers for its {enterpriseId, wasteClass} scope; zeros and a null rate when it "
        "reported nothing."
    ),
)
class EnterpriseUtilisationType:
    enterprise_id: strawberry.ID
    district: str | None = strawberry.field(description="Where it is registered.")
    industry: str | None = strawberry.field(description="GB/T 4754-2017 industry code.")
    enterprise: EnterpriseRef | None = strawberry.field(
        description="The catalog's enterprise (name, kind, sites), as the catalog shows it to "
        "you: null, with an error, when it does not."
    )
    figures: UtilisationRateType

    @classmethod
    def of(
        cls, standing: Standing, start: str, end: str, covers: WasteClass
    ) -> EnterpriseUtilisationType:
        return cls(
            enterprise_id=strawberry.ID(standing.enterprise_id),
            district=standing.district,
            industry=standing.industry,
            enterprise=EnterpriseRef(id=strawberry.ID(standing.enterprise_id)),
            figures=UtilisationRateType.of(standing.utilisation, start, end, covers),
        )


def league_connection(
    standings: Sequence[Standing],
    start: str,
    end: str,
    covers: WasteClass,
    first: int,
    total: int,
) -> Connection[EnterpriseUtilisationType]:
    return connection(
        [EnterpriseUtilisationType.of(s, start, end, covers) for s in standings],
        [cursor_of(s) for s in standings],
        first,
        total,
    )
