"""Reach: which rows a caller's list query may return (built by the GraphQL policy)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reach:
    """Everything (`everything`), one enterprise's rows, or one district's rows."""

    everything: bool = False
    enterprise_id: str | None = None
    district: str | None = None

    @classmethod
    def all(cls) -> Reach:
        return cls(everything=True)

    @classmethod
    def enterprise(cls, enterprise_id: str) -> Reach:
        return cls(enterprise_id=enterprise_id)

    @classmethod
    def of_district(cls, district: str) -> Reach:
        return cls(district=district)
