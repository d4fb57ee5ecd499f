"""The city's district register: the names enterprises and sites are registered in.

A district name decides who regulates a record and under which name its figures are added
up, so a typo (青山 for 青山区) would split a district's figures and hide an enterprise from its
regulator. The register accepts a name exactly as listed (after trimming) and refuses any
other with `UNKNOWN_DISTRICT`, suggesting the listed name when the input is a near spelling.

Pure: the register is built from a parsed file (`district_file`) and passed to whoever checks.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from wastex_shared.errors import DomainError

UNKNOWN_DISTRICT: Final = "UNKNOWN_DISTRICT"
#: At most this many names are suggested for one refused name.
MAX_SUGGESTIONS: Final = 3
#: A typo's likeness to a listed name (difflib's ratio): one wrong character of three.
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


def _key(text: str) -> str:
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

    def _refusal(self, name: str) -> str:
        refused = f"{name!r} is not one of the {len(self)} districts in the register"
        meant = self.suggestions(name)
        return f"{refused}; did you mean {_either(meant)}?" if meant else refused

    def suggestions(self, name: str) -> tuple[str, ...]:
        """Listed names `name` is a near spelling of, the likeliest rule first: the same but
        for spacing or case, a listed alias, the start of a name (青山 → 青山区), a name
        within it (武汉市青山区 → 青山区), and last one or two characters wrong."""
        key = _key(name)
        if not key:
            return ()
        keyed = [(_key(d.name), d) for d in self._districts]
        rules = (
            [d.name for k, d in keyed if k == key],
            [d.name for d in self._districts if key in {_key(a) for a in d.aliases}],
            [d.name for k, d in keyed if len(key) >= 2 and k.startswith(key)],
            [d.name for k, d in sorted(keyed, key=lambda kd: -len(kd[0])) if k in key],
            self._close_to(key, keyed),
        )
        for found in rules:
            if found:
                return tuple(found[:MAX_SUGGESTIONS])
        return ()

    @staticmethod
    def _close_to(key: str, keyed: list[tuple[str, District]]) -> list[str]:
        by_key = dict(keyed)
        close = difflib.get_close_matches(key, by_key, n=MAX_SUGGESTIONS, cutoff=CLOSE_ENOUGH)
        return [by_key[k].name for k in close]


def _either(names: tuple[str, ...]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
