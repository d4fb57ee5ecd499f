"""The city's district register as GraphQL types: what clients offer as a list of places."""

from __future__ import annotations

import enum

import strawberry

from wastex_shared.codes import District as DistrictRecord


@strawberry.enum(description="What kind of place a district of the register is.")
class DistrictKind(enum.Enum):
    ADMINISTRATIVE_DISTRICT = strawberry.enum_value(
        "ADMINISTRATIVE_DISTRICT", description="市辖区: a district of the city's administration."
    )
    FUNCTIONAL_ZONE = strawberry.enum_value(
        "FUNCTIONAL_ZONE",
        description="功能区: a development or scenic zone with its own management committee, "
        "which the city's statistics report beside the districts.",
    )


@strawberry.type(
    description="A district of the city's register: a name registerEnterprise and addSite "
    "accept (and regulators' tokens name), exactly as written here."
)
class District:
    name: str
    kind: DistrictKind

    @classmethod
    def of(cls, record: DistrictRecord) -> District:
        return cls(name=record.name, kind=DistrictKind[record.kind.name])
