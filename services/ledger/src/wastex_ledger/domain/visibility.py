"""Reach: which rows a caller's list query may return (built by the GraphQL policy); a
manifest with what decides who reads it."""

from __future__ import annotations

from dataclasses import dataclass

from wastex_ledger.domain.manifest import Manifest


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


@dataclass(frozen=True, slots=True)
class ManifestView:
    """A manifest with the districts of its two sites (for regulators)."""

    manifest: Manifest
    supplier_district: str | None
    recycler_district: str | None
    #: The districts its two parties are registered in, when known: their regulators read
    #: it too, wherever the sites lie (an enterprise moved by an amendment, decision 025).
    registered_districts: tuple[str, ...] = ()
