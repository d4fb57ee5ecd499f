"""Industry codes of GB/T 4754-2017 (国民经济行业分类).

A code is a section letter A–T, optionally followed by the 2-digit division (大类), the
3-digit group (中类) or the 4-digit class (小类): "C", "C31", "C311", "C3110" (炼铁).
The digits always start with the division, so besides the format we check that the
division belongs to the section (divisions 01–97 are split into consecutive ranges).
Groups and classes inside a division are not checked: that would need the full ~1,400-row
table and the utilisation statistics only group by section and division.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from wastex_shared.errors import DomainError

#: The error code of a malformed industry code, in every service.
INVALID_INDUSTRY_CODE: Final = "INVALID_INDUSTRY_CODE"


@dataclass(frozen=True, slots=True)
class IndustrySection:
    letter: str
    name_zh: str
    name_en: str
    first_division: int
    last_division: int


# letter, first and last division (大类), Chinese name, English name
_SECTION_ROWS: Final = (
    ("A", 1, 5, "农、林、牧、渔业", "Agriculture, forestry, animal husbandry and fishery"),
    ("B", 6, 12, "采矿业", "Mining"),
    ("C", 13, 43, "制造业", "Manufacturing"),
    ("D", 44, 46, "电力、热力、燃气及水生产和供应业", "Electricity, heat, gas and water supply"),
    ("E", 47, 50, "建筑业", "Construction"),
    ("F", 51, 52, "批发和零售业", "Wholesale and retail trade"),
    ("G", 53, 60, "交通运输、仓储和邮政业", "Transport, storage and postal services"),
    ("H", 61, 62, "住宿和餐饮业", "Accommodation and catering"),
    ("I", 63, 65, "信息传输、软件和信息技术服务业", "Information transmission, software, IT"),
    ("J", 66, 69, "金融业", "Finance"),
    ("K", 70, 70, "房地产业", "Real estate"),
    ("L", 71, 72, "租赁和商务服务业", "Leasing and business services"),
    ("M", 73, 75, "科学研究和技术服务业", "Scientific research and technical services"),
    ("N", 76, 79, "水利、环境和公共设施管理业", "Water, environment and public facilities"),
    ("O", 80, 82, "居民服务、修理和其他服务业", "Resident, repair and other services"),
    ("P", 83, 83, "教育", "Education"),
    ("Q", 84, 85, "卫生和社会工作", "Health and social work"),
    ("R", 86, 90, "文化、体育和娱乐业", "Culture, sports and entertainment"),
    ("S", 91, 96, "公共管理、社会保障和社会组织", "Public administration and social organisations"),
    ("T", 97, 97, "国际组织", "International organisations"),
)

SECTIONS: Final[dict[str, IndustrySection]] = {
    letter: IndustrySection(letter, name_zh, name_en, first, last)
    for letter, first, last, name_zh, name_en in _SECTION_ROWS
}

#: ASCII digits only: `\d` would take full-width ones ("C３１２０", typed with a Chinese
#: input method), stored as typed and never found by an exact industry filter.
_FORMAT: Final = re.compile(r"([A-Z])([0-9]{2,4})?")


def validate_industry_code(code: str, field: str = "industry") -> str:
    """The normalised code ("c3110" → "C3110"), or INVALID_INDUSTRY_CODE saying why."""
    normalised = (code or "").strip().upper()
    match = _FORMAT.fullmatch(normalised)
    if match is None:
        raise DomainError(
            INVALID_INDUSTRY_CODE,
            f"{code!r} is not a GB/T 4754-2017 code "
            "(a section letter, then 2–4 digits, e.g. C3110)",
            field,
        )
    section = SECTIONS.get(match.group(1))
    if section is None:
        raise DomainError(
            INVALID_INDUSTRY_CODE, f"there is no section {match.group(1)!r} (A–T)", field
        )
    digits = match.group(2)
    if digits is not None:
        division = int(digits[:2])
        if not section.first_division <= division <= section.last_division:
            raise DomainError(
                INVALID_INDUSTRY_CODE,
                f"division {digits[:2]} is not in section {section.letter} ({section.name_zh}, "
                f"divisions {section.first_division:02d}–{section.last_division:02d})",
                field,
            )
    return normalised


def section_of(code: str) -> IndustrySection:
    """The section of a (validated) industry code, for display and grouping."""
    return SECTIONS[code.strip().upper()[:1]]


def division_of(code: str) -> str | None:
    """The division ("C31" for "C3110"), or None for a bare section letter."""
    normalised = code.strip().upper()
    return normalised[:3] if len(normalised) >= 3 else None
