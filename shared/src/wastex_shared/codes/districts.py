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
#: two of three characters alike.
CLOSE_ENOUGH: Final = 0.6
#: Likeness below the likest spelling's at which another is no longer suggested beside it.
CLOSE_RUN: Final = 0.15


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
        for spacing or case; a listed alias; the start of a name or alias (青山 → 青山区); a
        name, or an alias of four characters or more, within it (武汉市青山区 → 青山区); a
        district's name less its last character starting it (黄陂经开区 → 黄陂区, a park of
        its own, not the 经开区 zone); it within an alias (高新区 → 东湖高新区's district);
        last, a spelling much alike. A start or a part must be at least half the spelling
        (武汉, the city, is no zone named after it); a lone character suggests nothing, nor
        does a wrong character in a name's two-character stem (朝阳区 is another city's
        district, not 汉阳区)."""
        key = spelling_key(name)
        if len(key) < 2:
            return ()
        names = [(spelling_key(d.name), d) for d in self._districts]
        aliases = [(spelling_key(a), d) for d in self._districts for a in d.aliases]
        spellings = names + aliases
        starts = [d for k, d in names if k.startswith(key)]
        whole = names + [(k, d) for k, d in aliases if len(k) >= 4]  # 经开区 is any park's
        rules = (
            [d for k, d in names if k == key],
            [d for k, d in aliases if k == key],
            starts if len(starts) >= 2 else [d for k, d in spellings if _starts(k, key)],
            [d for k, d in sorted(whole, key=lambda kd: -len(kd[0])) if k in key],
            [d for k, d in names if len(k) >= 3 and key.startswith(k[:-1])],
            [d for k, d in spellings if key in k and 2 * len(key) >= len(k)],
            _close_to(key, spellings),
        )
        for found in rules:
            if found:
                return tuple(dict.fromkeys(d.name for d in found))[:MAX_SUGGESTIONS]
        return ()


def _close_to(key: str, spellings: list[tuple[str, District]]) -> list[District]:
    """The spellings most like `key` (within `CLOSE_RUN` of the likest), of a length near its."""
    scored = [
        (_likeness(key, k), i)
        for i, (k, _) in enumerate(spellings)
        if 2 * max(len(k), len(key)) <= 3 * min(len(k), len(key))
    ]
    close = sorted((-score, i) for score, i in scored if score >= CLOSE_ENOUGH)
    if not close:
        return []
    best = -close[0][0]
    return [spellings[i][1] for score, i in close if -score >= best - CLOSE_RUN]


def _likeness(key: str, spelling: str) -> float:
    """difflib's ratio, leaving out a last character both share: nearly every name ends in
    区, so 开发区 is not two-thirds of 经开区."""
    if key[-1] == spelling[-1]:
        key, spelling = key[:-1], spelling[:-1]
    return difflib.SequenceMatcher(None, key, spelling).ratio()


def _starts(spelling: str, key: str) -> bool:
    """`key` begins `spelling` and is half of it or more (青山 of 青山区, not 武汉 of a zone)."""
    return spelling.startswith(key) and 2 * len(key) >= len(spelling)


def _either(names: tuple[str, ...]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
