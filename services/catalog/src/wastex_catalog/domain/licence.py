"""Licences: an enterprise's legal basis to take waste codes in, and the coverage rule.

Two kinds (contract): HAZARDOUS_WASTE_OPERATING (危险废物经营许可证), required for any HW
code, and GENERAL_UTILISATION, the verified capability record for general industrial
solid waste (the default). What an enterprise may demand is what its licences cover.

An admin corrects a licence (`amend`: codes, tonnage, validity; not its number, holder or
type) or records its revocation (`revoke`, from today or a later day): the licence then
holds up to the day before. Each change raises `version`, which orders the facts readers
get (decision 017), and is kept as a version of its own with why and by whom (`LicenceChange`).

Licence numbers are unique as `number_key` compares them: the same number typed with
full-width characters, other spacing or case is the same licence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final
from unicodedata import normalize

from wastex_catalog.domain import errors
from wastex_catalog.domain.common import (
    DateInput,
    TonnesInput,
    Window,
    parse_date,
    parse_tonnes,
    parse_waste_codes,
    parse_window,
    require_a_term,
    require_text,
)
from wastex_shared.codes import canonical, is_hazardous
from wastex_shared.errors import DomainError

NUMBER_MAX_LENGTH: Final = 100
REASON_MAX_LENGTH: Final = 500


class LicenceType(StrEnum):
    HAZARDOUS_WASTE_OPERATING = "HAZARDOUS_WASTE_OPERATING"
    GENERAL_UTILISATION = "GENERAL_UTILISATION"

    @classmethod
    def parse(cls, value: LicenceType | str | None, field: str = "type") -> LicenceType:
        if value is None:
            return cls.GENERAL_UTILISATION
        try:
            return cls(value.strip().upper() if isinstance(value, str) else value)
        except ValueError as exc:
            raise DomainError(
                errors.INVALID_LICENCE_TYPE,
                f"{value!r} is not a licence type "
                "(HAZARDOUS_WASTE_OPERATING or GENERAL_UTILISATION)",
                field,
            ) from exc


class LicenceChange(StrEnum):
    """What made a version of a licence."""

    REGISTERED = "REGISTERED"
    AMENDED = "AMENDED"
    REVOKED = "REVOKED"


def number_key(number: str) -> str:
    """A licence number as uniqueness compares it: NFKC (full-width ＨＷ０１ as HW01), without
    whitespace, case folded. "鄂环危 第 0001 号" and "鄂环危第0001号" are one licence."""
    return "".join(normalize("NFKC", number).split()).casefold()


@dataclass(frozen=True, slots=True, kw_only=True)
class Licence:
    id: str
    enterprise_id: str
    number: str
    waste_codes: tuple[str, ...]
    annual_capacity_tonnes: Decimal
    valid_from: date
    valid_until: date
    type: LicenceType = LicenceType.GENERAL_UTILISATION
    #: The first day the licence no longer holds, when it was revoked.
    revoked_on: date | None = None
    revocation_reason: str | None = None
    version: int = 1

    @classmethod
    def register(
        cls,
        *,
        id: str,
        enterprise_id: str,
        number: str,
        waste_codes: Iterable[str],
        annual_capacity_tonnes: TonnesInput,
        valid_from: DateInput,
        valid_until: DateInput,
        type: LicenceType | str | None = None,
    ) -> Licence:
        licence_type = LicenceType.parse(type, "type")
        codes = parse_waste_codes(waste_codes, "wasteCodes")
        if licence_type is LicenceType.GENERAL_UTILISATION:
            hazardous = [code for code in codes if is_hazardous(code)]
            if hazardous:
                raise DomainError(
                    errors.HAZARDOUS_NEEDS_OPERATING_LICENCE,
                    f"{', '.join(hazardous)} hazardous: a GENERAL_UTILISATION licence cannot "
                    "list HW codes; register a HAZARDOUS_WASTE_OPERATING licence",
                    "wasteCodes",
                )
        validity = parse_window(
            valid_from, valid_until, start_field="validFrom", end_field="validUntil"
        )
        return cls(
            id=id,
            enterprise_id=enterprise_id,
            number=require_text(number, "number", max_length=NUMBER_MAX_LENGTH),
            waste_codes=codes,
            annual_capacity_tonnes=parse_tonnes(annual_capacity_tonnes, "annualCapacityTonnes"),
            valid_from=validity.start,
            valid_until=validity.end,
            type=licence_type,
        )

    def amend(
        self,
        *,
        waste_codes: Iterable[str] | None = None,
        annual_capacity_tonnes: TonnesInput | None = None,
        valid_from: DateInput | None = None,
        valid_until: DateInput | None = None,
    ) -> Licence:
        """This licence corrected: what is given replaces what was registered, checked as
        a registration is. A revoked licence is not amended (register its successor)."""
        require_a_term(
            f"licence {self.number}", waste_codes, annual_capacity_tonnes, valid_from, valid_until
        )
        self._require_not_revoked()
        amended = Licence.register(
            id=self.id,
            enterprise_id=self.enterprise_id,
            number=self.number,
            waste_codes=self.waste_codes if waste_codes is None else waste_codes,
            annual_capacity_tonnes=(
                self.annual_capacity_tonnes
                if annual_capacity_tonnes is None
                else annual_capacity_tonnes
            ),
            valid_from=self.valid_from if valid_from is None else valid_from,
            valid_until=self.valid_until if valid_until is None else valid_until,
            type=self.type,
        )
        if amended == replace(self, version=1):
            raise DomainError(
                errors.NOTHING_TO_AMEND, f"licence {self.number} already reads so", "input"
            )
        return replace(amended, version=self.version + 1)

    def revoke(self, *, reason: str, effective_from: DateInput | None, today: date) -> Licence:
        """This licence revoked from `effective_from` (today by default; never a past day,
        whose shipments have happened, nor one after it runs out, which would change
        nothing). A revocation not yet in force may be brought forward, not put off."""
        first_day = today if effective_from is None else parse_date(effective_from, "effectiveFrom")
        if self.revoked_on is not None and (
            self.revoked_on <= today or first_day >= self.revoked_on
        ):
            self._require_not_revoked()
        if first_day < today:
            raise DomainError(
                errors.INVALID_DATE,
                f"a revocation takes effect today ({today}) or later, not {first_day}",
                "effectiveFrom",
            )
        if first_day > self.valid_until:
            raise DomainError(
                errors.INVALID_DATE,
                f"licence {self.number} runs out on {self.valid_until}: a revocation from "
                f"{first_day} would change nothing",
                "id" if effective_from is None else "effectiveFrom",
            )
        return replace(
            self,
            revoked_on=first_day,
            revocation_reason=require_text(reason, "reason", max_length=REASON_MAX_LENGTH),
            version=self.version + 1,
        )

    def _require_not_revoked(self) -> None:
        if self.revoked_on is not None:
            raise DomainError(
                errors.LICENCE_REVOKED,
                f"licence {self.number} was revoked from {self.revoked_on} (a revocation not "
                "yet in force may only be brought forward)",
                "id",
            )

    @property
    def number_key(self) -> str:
        return number_key(self.number)

    @property
    def last_valid_day(self) -> date:
        """The last day the licence holds: its end, or the day before its revocation."""
        if self.revoked_on is None:
            return self.valid_until
        return min(self.valid_until, self.revoked_on - timedelta(days=1))

    @property
    def validity(self) -> Window | None:
        """The days the licence holds; None when it was revoked before it began."""
        last = self.last_valid_day
        return Window(self.valid_from, last) if self.valid_from <= last else None

    def is_valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.last_valid_day

    def lists(self, code: str) -> bool:
        return canonical(code) in self.waste_codes

    def may_take(self, code: str) -> bool:
        """Listed and of a type that can carry the code (HW needs an operating licence).

        Checked again here, not only at registration, because a stored licence predates
        whatever rule change a reader might bring.
        """
        if not self.lists(code):
            return False
        return not is_hazardous(code) or self.type is LicenceType.HAZARDOUS_WASTE_OPERATING


def check_demand_coverage(
    codes: Iterable[str],
    licences: Sequence[Licence],
    window: Window,
    field: str = "wasteCodes",
) -> None:
    """Refuse the first code the licences do not cover on the first day of `window` (a
    demand's days from today on). The window may run past their cover: the demand then
    keeps the last day they cover it and waits there for a renewal (`last_licensed_day`,
    `runs_out_on_its_term`; decision 034, later).

    Pass only the demanding enterprise's licences. Errors, per code:
    HAZARDOUS_NEEDS_OPERATING_LICENCE when only a GENERAL_UTILISATION licence lists an HW
    code, LICENCE_NOT_COVERING_CODE when none lists it, and when none of those listing it is
    valid on the first day, judged on that day (`_uncovered_reason`): LICENCE_REVOKED when one
    would cover it but for a revocation, LICENCE_NOT_YET_VALID when one holds from a later
    day (a window from then would be posted), LICENCE_EXPIRED otherwise.
    """
    for code in codes:
        listing = [lic for lic in licences if lic.lists(code)]
        usable = [lic for lic in listing if lic.may_take(code)]
        if not listing:
            raise DomainError(
                errors.LICENCE_NOT_COVERING_CODE, f"no licence of yours lists {code}", field
            )
        if not usable:
            raise DomainError(
                errors.HAZARDOUS_NEEDS_OPERATING_LICENCE,
                f"{code} is hazardous and needs a HAZARDOUS_WASTE_OPERATING licence",
                field,
            )
        if not any(lic.is_valid_on(window.start) for lic in usable):
            spans = ", ".join(
                f"{lic.number} {lic.valid_from}–{lic.last_valid_day}" for lic in usable
            )
            raise DomainError(
                _uncovered_reason(window.start, usable),
                f"no licence covers {code} on {window.start}, the window's first day from "
                f"today ({spans}): a demand may run past its licences, not start outside them",
                field,
            )


def _uncovered_reason(day: date, usable: Sequence[Licence]) -> str:
    """Why licences that may take a code do not cover `day`, a window's first day: one would
    but for a revocation (LICENCE_REVOKED); one holds from a later day (LICENCE_NOT_YET_VALID:
    a window from then would be posted); one starting later was revoked before it began
    (LICENCE_REVOKED: it would but for that); else LICENCE_EXPIRED."""
    if any(lic.valid_from <= day <= lic.valid_until for lic in usable):
        return errors.LICENCE_REVOKED
    later = [lic for lic in usable if lic.valid_from > day]
    if any(lic.validity is not None for lic in later):
        return errors.LICENCE_NOT_YET_VALID
    return errors.LICENCE_REVOKED if later else errors.LICENCE_EXPIRED


def last_licensed_day(
    codes: Sequence[str], licences: Iterable[Licence], window: Window
) -> date | None:
    """The last day of `window` on which one of `licences` lets its holder take one of
    `codes`, when that comes before the window's end (the day before the window when none
    does); None when they reach its end. Past that day a demand can take nothing: a licence
    amended or revoked since it was posted has ended it early."""
    # The day before the window (a window stored before dates were bounded may start on
    # the calendar's first day, which has none before it).
    last = max(window.start, date.min + timedelta(days=1)) - timedelta(days=1)
    for lic in licences:
        validity = lic.validity
        if validity is None or validity.start > window.end or validity.end < window.start:
            continue
        if any(lic.may_take(code) for code in codes):
            last = max(last, min(validity.end, window.end))
    return None if last >= window.end else last


def runs_out_on_its_term(
    codes: Sequence[str], licences: Iterable[Licence], window: Window, last_day: date
) -> bool:
    """Whether `last_day` (`last_licensed_day`'s) is the end of a licence's term: one that
    may take one of `codes` holds to its `valid_until` and that is `last_day`, and no
    revocation stops the licences covering a later day (as registered they end there too).
    A cover ended by a revocation, or by no licence taking the codes (an amendment dropped
    them), is not: decision 034 gives only a lapse days to wait for a renewal."""
    licences = list(licences)
    if not any(
        lic.valid_until == lic.last_valid_day == last_day
        and any(lic.may_take(code) for code in codes)
        for lic in licences
    ):
        return False
    as_registered = [replace(lic, revoked_on=None) for lic in licences]
    return last_licensed_day(codes, as_registered, window) == last_day


def covering_licences(code: str, licences: Iterable[Licence], day: date) -> list[Licence]:
    """Licences allowing `code` on `day` (for matching read models and display)."""
    return [lic for lic in licences if lic.may_take(code) and lic.is_valid_on(day)]
