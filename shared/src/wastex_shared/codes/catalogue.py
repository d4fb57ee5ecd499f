"""Load the vendored CSVs once and answer look-ups and validation with a reason."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from wastex_shared.errors import DomainError

ACTIVE = "active"
ABOLISHED = "abolished"


@dataclass(frozen=True, slots=True)
class WasteCode:
    code: str
    name_zh: str
    name_en: str
    hazardous: bool
    status: str
    note: str = ""

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


def _rows(filename: str) -> list[dict[str, str]]:
    text = resources.files("wastex_shared.codes").joinpath("data", filename).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def _catalogue() -> dict[str, WasteCode]:
    codes: dict[str, WasteCode] = {}
    for row in _rows("hazardous-waste-categories.csv"):
        codes[row["code"]] = WasteCode(
            row["code"], row["name_zh"], row["name_en"], True, row["status"], row["note"]
        )
    for row in _rows("general-solid-waste-categories.csv"):
        # The general list has no status column: every SW category listed is in use.
        codes[row["code"]] = WasteCode(
            row["code"], row["name_zh"], row["name_en"], False, ACTIVE, row["note"]
        )
    return codes


def all_codes() -> list[WasteCode]:
    return list(_catalogue().values())


#: A hazardous waste's own code in the 国家危险废物名录: industry (3 digits), sequence (3),
#: category (2, the HW number) — formulas.md, "Hazardous waste code".
_HAZARDOUS_WASTE_CODE = re.compile(r"^\d{3}-\d{3}-(\d{2})$")


def canonical(code: str) -> str:
    """The category code `code` stands for, as wastex stores it: trimmed, upper case, and a
    hazardous waste's own code ("900-249-08", as its manifests and systems write it) by its
    category (HW08). Licences, offers and figures are kept by category."""
    text = code.strip().upper()
    own = _HAZARDOUS_WASTE_CODE.match(text)
    return f"HW{own.group(1)}" if own else text


def lookup(code: str) -> WasteCode | None:
    return _catalogue().get(canonical(code))


def is_hazardous(code: str) -> bool:
    found = lookup(code)
    return found is not None and found.hazardous


def known(code: str, field: str = "wasteCode") -> WasteCode:
    """The category `code` stands for, abolished or not (records made before hold it), or
    UNKNOWN_WASTE_CODE: a filter's typo is refused rather than answered with nothing."""
    found = lookup(code)
    if found is None:
        raise DomainError("UNKNOWN_WASTE_CODE", f"{code!r} is not a known waste code", field)
    return found


def validate_code(code: str, field: str = "wasteCode") -> WasteCode:
    """The active category for `code`, or a DomainError naming why it is refused."""
    found = known(code, field)
    if not found.active:
        reason = found.note or "not in the current 国家危险废物名录"
        raise DomainError(
            "ABOLISHED_WASTE_CODE", f"{found.code} ({found.name_zh}) is abolished: {reason}", field
        )
    return found


def search(text: str | None) -> list[WasteCode]:
    """Codes whose code, Chinese or English name contains `text` (case-insensitive)."""
    if not text:
        return all_codes()
    needle = canonical(text).casefold()  # a waste's own code finds its category
    return [
        c
        for c in all_codes()
        if needle in c.code.casefold() or needle in c.name_zh or needle in c.name_en.casefold()
    ]
