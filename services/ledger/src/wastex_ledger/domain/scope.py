"""Scopes of the utilisation figures and the projection rows an entry belongs to.

A query names at most one of: an enterprise (optionally with a waste code), a district
(optionally with an industry or a waste code), an industry, a waste code; naming nothing
means the whole city. Each is a *scope kind* with a value, and every entry adds its figures
to one projection row per (scope kind, scope value, month) it falls in.

The kinds without a code keep one row per *waste class*: the reference's 综合利用率 is a
figure of general industrial solid waste (一般工业固体废物, formulas.md §1), and hazardous
waste is reported on its own; a query sums one class's row a month, or both for all codes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from wastex_ledger.domain import errors
from wastex_ledger.domain.entries import Entry
from wastex_shared.codes import is_hazardous
from wastex_shared.errors import DomainError

CITY_VALUE = "*"
SEPARATOR = "|"


class WasteClass(enum.StrEnum):
    """Which codes figures cover."""

    GENERAL = "GENERAL"
    HAZARDOUS = "HAZARDOUS"
    ALL = "ALL"


#: How each class is written at the end of a row's scope value.
CLASS_TAGS = {WasteClass.GENERAL: "general", WasteClass.HAZARDOUS: "hazardous"}


def class_suffixes(covers: WasteClass) -> list[str]:
    """How the scope values of a code-less scope's rows end for the codes `covers`: one
    class's rows, or both classes' for ALL."""
    classes = CLASS_TAGS.values() if covers is WasteClass.ALL else [CLASS_TAGS[covers]]
    return [f"{SEPARATOR}{tag}" for tag in classes]


def class_of(code: str) -> WasteClass:
    return WasteClass.HAZARDOUS if is_hazardous(code) else WasteClass.GENERAL


class ScopeKind(enum.StrEnum):
    CITY = "city"
    ENTERPRISE = "enterprise"
    ENTERPRISE_CODE = "enterprise_code"
    DISTRICT = "district"
    DISTRICT_INDUSTRY = "district_industry"
    DISTRICT_CODE = "district_code"
    INDUSTRY = "industry"
    WASTE_CODE = "waste_code"


#: The kinds whose rows are kept per waste class (the others name a code, hence a class).
CLASSED_KINDS = frozenset(
    {
        ScopeKind.CITY,
        ScopeKind.ENTERPRISE,
        ScopeKind.DISTRICT,
        ScopeKind.DISTRICT_INDUSTRY,
        ScopeKind.INDUSTRY,
    }
)


@dataclass(frozen=True, slots=True)
class Scope:
    enterprise_id: str | None = None
    district: str | None = None
    industry: str | None = None
    waste_code: str | None = None
    #: None: general waste (the rate's own class), or the waste code's class when one is
    #: named.
    waste_class: WasteClass | None = None

    @property
    def kind(self) -> ScopeKind:
        e, d, i, c = self.enterprise_id, self.district, self.industry, self.waste_code
        if e is not None:
            if d is not None or i is not None:
                raise _invalid("an enterprise scope may add a wasteCode, nothing else")
            return ScopeKind.ENTERPRISE_CODE if c is not None else ScopeKind.ENTERPRISE
        if d is not None:
            if i is not None and c is not None:
                raise _invalid("a district scope may add an industry or a wasteCode, not both")
            if i is not None:
                return ScopeKind.DISTRICT_INDUSTRY
            return ScopeKind.DISTRICT_CODE if c is not None else ScopeKind.DISTRICT
        if i is not None and c is not None:
            raise _invalid("give industry or wasteCode (or add a district), not both")
        if i is not None:
            return ScopeKind.INDUSTRY
        if c is not None:
            return ScopeKind.WASTE_CODE
        return ScopeKind.CITY

    @property
    def value(self) -> str:
        kind = self.kind
        parts: dict[ScopeKind, tuple[str | None, ...]] = {
            ScopeKind.CITY: (CITY_VALUE,),
            ScopeKind.ENTERPRISE: (self.enterprise_id,),
            ScopeKind.ENTERPRISE_CODE: (self.enterprise_id, self.waste_code),
            ScopeKind.DISTRICT: (self.district,),
            ScopeKind.DISTRICT_INDUSTRY: (self.district, self.industry),
            ScopeKind.DISTRICT_CODE: (self.district, self.waste_code),
            ScopeKind.INDUSTRY: (self.industry,),
            ScopeKind.WASTE_CODE: (self.waste_code,),
        }
        return SEPARATOR.join(p or "" for p in parts[kind])

    @property
    def covers(self) -> WasteClass:
        """The class of the codes the figures cover."""
        asked, code = self.waste_class, self.waste_code
        if code is None:
            return WasteClass.GENERAL if asked is None else asked
        if asked not in (None, WasteClass.ALL, class_of(code)):
            raise _invalid(f"{code} is not {asked.lower()} waste")
        return class_of(code)

    @property
    def keys(self) -> list[tuple[str, str]]:
        """The (scope kind, scope value) rows whose sum a query answers: one, or one per
        class when a code-less scope covers all of them."""
        kind, value, covers = self.kind, self.value, self.covers
        if kind not in CLASSED_KINDS:
            return [(str(kind), value)]
        return [(str(kind), value + suffix) for suffix in class_suffixes(covers)]


def _invalid(message: str) -> DomainError:
    return DomainError(errors.INVALID_SCOPE, message, "scope")


def scopes_of(entry: Entry) -> list[Scope]:
    """Every scope whose figures `entry` adds to."""
    e, d, i, c = entry.enterprise_id, entry.district, entry.industry, entry.waste_code
    k = class_of(c)
    return [
        Scope(waste_class=k),
        Scope(enterprise_id=e, waste_class=k),
        Scope(enterprise_id=e, waste_code=c),
        Scope(district=d, waste_class=k),
        Scope(district=d, industry=i, waste_class=k),
        Scope(district=d, waste_code=c),
        Scope(industry=i, waste_class=k),
        Scope(waste_code=c),
    ]


def grain_of(entry: Entry) -> tuple[str, str, str, str, str]:
    """What `projection_keys` reads of an entry: entries of one grain share their rows."""
    return (
        entry.enterprise_id,
        entry.district,
        entry.industry,
        entry.waste_code,
        str(entry.period),
    )


def projection_keys(entry: Entry) -> list[tuple[str, str, str]]:
    """The projection rows `entry` increments: (scope kind, scope value, "YYYY-MM").

    Every entry, the receiver's intake included, goes to every scope of its own site; area
    totals still count each tonne once because intake lands in its own columns
    (`transferred_in`, `received_utilised`) that no rate reads.
    """
    # Spelled out rather than built from `scopes_of` (a replay computes millions of keys);
    # the unit tests hold the two to the same keys.
    month = str(entry.period)
    e, d, i, c = entry.enterprise_id, entry.district, entry.industry, entry.waste_code
    k = SEPARATOR + CLASS_TAGS[class_of(c)]
    return [
        (ScopeKind.CITY.value, CITY_VALUE + k, month),
        (ScopeKind.ENTERPRISE.value, e + k, month),
        (ScopeKind.ENTERPRISE_CODE.value, f"{e}{SEPARATOR}{c}", month),
        (ScopeKind.DISTRICT.value, d + k, month),
        (ScopeKind.DISTRICT_INDUSTRY.value, f"{d}{SEPARATOR}{i}{k}", month),
        (ScopeKind.DISTRICT_CODE.value, f"{d}{SEPARATOR}{c}", month),
        (ScopeKind.INDUSTRY.value, i + k, month),
        (ScopeKind.WASTE_CODE.value, c, month),
    ]
