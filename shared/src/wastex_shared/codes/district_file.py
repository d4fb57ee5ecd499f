"""Read a district register file: the packaged one (Wuhan's) or a city's own.

The format is described in the packaged file's header (`data/wuhan-districts.csv`). A file
that cannot be read as a register stops whoever loads it at start-up, naming the line: a
service running with half a register would refuse real districts.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path
from typing import Final

from wastex_shared.codes.districts import (
    District,
    DistrictKind,
    DistrictRegister,
    spelling_key,
)

PACKAGED: Final = "wuhan-districts.csv"
REQUIRED_COLUMNS: Final = ("name", "kind")


class DistrictFileError(ValueError):
    """A district file that is not a register; the message names the file and line."""


def packaged_text() -> str:
    return resources.files("wastex_shared.codes").joinpath("data", PACKAGED).read_text("utf-8")


def load_districts(path: Path | None = None) -> DistrictRegister:
    """The register in `path` (WASTEX_DISTRICTS_FILE), or the packaged one without it."""
    if path is None:
        return parse_districts(packaged_text(), PACKAGED)
    try:
        text = path.read_text("utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise DistrictFileError(f"district file {path}: {exc}") from exc
    return parse_districts(text, str(path))


def parse_districts(text: str, origin: str = "district file") -> DistrictRegister:
    # One row a line: comments are dropped and each line read alone, so an error names its line.
    numbered = [
        (number, next(csv.reader([line])))
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise DistrictFileError(f"{origin}: no header row and no districts")
    (header_line, header), rows = numbered[0], numbered[1:]
    columns = [c.strip() for c in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        lacking = ", ".join(missing)
        raise DistrictFileError(f"{origin} line {header_line}: the header lacks {lacking}")
    districts: list[District] = []
    for number, values in rows:
        try:
            if len(values) > len(columns):
                raise ValueError(f"{len(values)} values for {len(columns)} columns")
            districts.append(_district(dict(zip(columns, values, strict=False))))
        except ValueError as exc:
            raise DistrictFileError(f"{origin} line {number}: {exc}") from exc
    if not districts:
        raise DistrictFileError(f"{origin}: no districts")
    _check_unique(districts, origin)
    return DistrictRegister(districts)


def _district(row: dict[str, str]) -> District:
    name = (row.get("name") or "").strip()
    if not name:
        raise ValueError("a district needs a name")
    kind = (row.get("kind") or "").strip().lower()
    try:
        parsed = DistrictKind(kind)
    except ValueError:
        kinds = " or ".join(k.value for k in DistrictKind)
        raise ValueError(f"{name}: kind {kind!r} is not {kinds}") from None
    aliases = tuple(a.strip() for a in (row.get("aliases") or "").split(";") if a.strip())
    return District(name, parsed, aliases, (row.get("note") or "").strip())


def _check_unique(districts: list[District], origin: str) -> None:
    """Each name and alias once: an alias that is also a name would be accepted and refused
    at once, one alias of two districts would suggest either."""
    names = [d.name for d in districts]
    seen: set[str] = set()
    for spelling in names + [a for d in districts for a in d.aliases]:
        # Spelt apart only by spacing or case, two entries are one to the suggestions.
        if (key := spelling_key(spelling)) in seen:
            raise DistrictFileError(f"{origin}: {spelling!r} is listed twice (names and aliases)")
        seen.add(key)
