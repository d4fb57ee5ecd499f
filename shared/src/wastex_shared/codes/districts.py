"""The city's district register: the names enterprises and sites are registered in.

A district name decides who regulates a record and under which name its figures are added
up, so a typo (青山 for 青山区) would split a district's figures and hide an enterprise from its
regulator. The register accepts a name exactly as listed (after trimming) and refuses any
other with `UNKNOWN_DISTRICT`, suggesting the listed name when the input is a near spelling.

Pure: the register is built from a parsed file (`district_file`) and passed to whoever checks.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from wastex_shared.errors import DomainError

UNKNOWN_DISTRICT: Final = "UNKNOWN_DISTRICT"
#: At most this many names are suggested for one refused name.
MAX_SUGGESTIONS: Final = 3
#: A typo's likeness to a listed name (difflib's ratio, a shared last character left out):
#: one wrong character of three.
CLOSE_ENOUGH: Final = 0.6


class DistrictKind(StrEnum):
    #: 市辖区: a district of the city's administrative division.
    ADMINISTRATIVE_DISTRICT = "administrative_district"
    #: 功能区: a development or scenic zone the city's statistics report beside the districts.
    FUNCTIONAL_ZONE = "functional_zone"


@dataclass(frozen=True, slots=True)
class District:
    name: str
    kind: DistrictKind
    #: Other spellings in common use: refused, but answered with this name.
    aliases: tuple[str, ...] = ()
    note: str = ""


def spelling_key(text: str) -> str:
    """What two spellings of one name share: no whitespace anywhere (full-width included),
    case folded (for a city whose names are written in Latin letters)."""
    return "".join(text.split()).casefold()


class DistrictRegister:
    """The districts of one city, in the order their file lists them."""

    def __init__(self, districts: Iterable[District]) -> None:
        self._districts = tuple(districts)
        self._by_name = {d.name: d for d in self._districts}

    def __iter__(self) -> Iterator[District]:
        return iter(self._districts)

    def __len__(self) -> int:
        return len(self._districts)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def validate(self, name: str, field: str = "district") -> str:
        """`name` trimmed when the register lists it; else a DomainError that suggests the
        listed name(s) it was probably meant to be."""
        trimmed = name.strip()
        if trimmed in self._by_name:
            return trimmed
        raise DomainError(UNKNOWN_DISTRICT, self._refusal(trimmed), field)

    async def require_queried(
        self, name: str, stored: Callable[[str], Awaitable[bool]], field: str = "district"
    ) -> None:
        """A district a query filters by: one the register lists or one `stored` says the
        records hold (named before the register); else UNKNOWN_DISTRICT, suggesting the name
        meant, so a typo (青山) is not answered with an empty list or figures of zero."""
        if name.strip() in self._by_name or await stored(name):
            return
        self.validate(name, field)

    def _refusal(self, name: str) -> str:
        refused = f"{name!r} is not one of the {len(self)} districts in the register"
        meant = self.suggestions(name)
        return f"{refused}; did you mean {_either(meant)}?" if meant else refused

    def suggestions(self, name: str) -> tuple[str, ...]:
        """Listed names `name` is a near spelling of, the likeliest rule first: the same but
        for spacing or case, a listed alias, the start of a name or alias (青山 → 青山区), a
        name or alias within it (武汉市青山区 → 青山区), it within an alias (高新区 → 东湖高新区's
        district), and last one or two characters wrong. A start or a part must be at least
        half the spelling, so the city's name (武汉) suggests no zone named after the city."""
        key = spelling_key(name)
        if not key:
            return ()
        names = [(spelling_key(d.name), d) for d in self._districts]
        spellings = names + [(spelling_key(a), d) for d in self._districts for a in d.aliases]
        starts = [d for k, d in names if k.startswith(key)]
        rules = (
            [d for k, d in names if k == key],
            [d for k, d in spellings[len(names) :] if k == key],
            starts if len(starts) >= 2 else [d for k, d in spellings if _starts(k, key)],
            [d for k, d in sorted(spellings, key=lambda kd: -len(kd[0])) if k in key],
            [d for k, d in spellings if key in k and 2 * len(key) >= len(k)],
            self._close_to(key, spellings),
        )
        for found in rules:
            if found:
                return tuple(dict.fromkeys(d.name for d in found))[:MAX_SUGGESTIONS]
        return ()

    @staticmethod
    def _close_to(key: str, spellings: list[tuple[str, District]]) -> list[District]:
        scored = [(_likeness(key, k), i) for i, (k, _) in enumerate(spellings)]
        best = sorted((-score, i) for score, i in scored if score >= CLOSE_ENOUGH)
        return [spellings[i][1] for _, i in best]


def _likeness(key: str, spelling: str) -> float:
    """The share of characters in place when one was mistyped (青山去 for 青山区), else
    difflib's ratio leaving out a last character both share: nearly every name ends in 区,
    so 开发区 is not two-thirds of 经开区."""
    if len(key) == len(spelling) and sum(map(str.__ne__, key, spelling)) == 1:
        return 1 - 1 / len(key)
    if len(key) > 1 and len(spelling) > 1 and key[-1] == spelling[-1]:
        key, spelling = key[:-1], spelling[:-1]
    return difflib.SequenceMatcher(None, key, spelling).ratio()


def _starts(spelling: str, key: str) -> bool:
    """`key` begins `spelling` and is half of it or more (青山 of 青山区, not 武汉 of a zone)."""
    return len(key) >= 2 and spelling.startswith(key) and 2 * len(key) >= len(spelling)


def _either(names: tuple[str, ...]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
