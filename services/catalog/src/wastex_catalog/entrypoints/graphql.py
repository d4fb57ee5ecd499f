"""The catalog subgraph (skeleton: waste codes)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from wastex_shared.codes import WasteCode as WasteCodeRecord
from wastex_shared.codes import search
from wastex_shared.graphql.extensions import standard_extensions


@strawberry.federation.type(
    keys=["code"], description="A waste category (HW hazardous, SW general)."
)
class WasteCode:
    code: strawberry.ID
    name_zh: str
    name_en: str
    hazardous: bool
    status: str

    @classmethod
    def of(cls, record: WasteCodeRecord) -> WasteCode:
        return cls(
            code=strawberry.ID(record.code),
            name_zh=record.name_zh,
            name_en=record.name_en,
            hazardous=record.hazardous,
            status=record.status.upper(),
        )


@strawberry.type
class Query:
    @strawberry.field(description="Waste codes whose code or name (Chinese or English) matches.")
    def waste_codes(
        self, search_text: Annotated[str | None, strawberry.argument(name="search")] = None
    ) -> list[WasteCode]:
        return [WasteCode.of(c) for c in search(search_text)]


schema = strawberry.federation.Schema(
    query=Query, federation_version="2.9", extensions=standard_extensions()
)
