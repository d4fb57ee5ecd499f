"""The district register: Wuhan's by default, a city's own from a file, and a refusal of any
other name that suggests the one probably meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from wastex_shared.codes import DistrictKind, DistrictRegister
from wastex_shared.codes.district_file import DistrictFileError, load_districts, parse_districts
from wastex_shared.errors import DomainError
from wastex_shared.settings import ServiceSettings

WUHAN = load_districts()
ADMINISTRATIVE = (
    *("江岸区", "江汉区", "硚口区", "汉阳区", "武昌区", "青山区", "洪山区"),
    *("东西湖区", "汉南区", "蔡甸区", "江夏区", "黄陂区", "新洲区"),
)
FUNCTIONAL = ("东湖新技术开发区", "武汉经济技术开发区", "东湖生态旅游风景区")


def refusal(register: DistrictRegister, name: str) -> DomainError:
    with pytest.raises(DomainError) as err:
        register.validate(name)
    assert (err.value.code, err.value.field) == ("UNKNOWN_DISTRICT", "district")
    return err.value


def test_wuhan_has_its_13_districts_and_3_functional_zones_in_order() -> None:
    kinds = {d.name: d.kind for d in WUHAN}
    assert list(kinds) == [*ADMINISTRATIVE, *FUNCTIONAL]
    assert {kinds[n] for n in ADMINISTRATIVE} == {DistrictKind.ADMINISTRATIVE_DISTRICT}
    assert {kinds[n] for n in FUNCTIONAL} == {DistrictKind.FUNCTIONAL_ZONE}


def test_a_listed_name_is_accepted_trimmed() -> None:
    assert WUHAN.validate(" 青山区\u3000") == "青山区"


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("青山", "'青山区'"),  # the 区 left off
        ("洪山 区", "'洪山区'"),  # a space inside
        ("东湖高新区", "'东湖新技术开发区'"),  # an alias in common use
        ("武汉市青山区", "'青山区'"),  # the city in front
        ("青山去", "'青山区'"),  # one character wrong
        ("蔡甸区区", "'蔡甸区'"),  # one character too many
        ("黄陂经开区", "'黄陂区'"),  # a district's own park, not the 经开区 zone
        ("江汉经济开发区", "'江汉区'"),
        ("武汉东湖高新技术开发区", "'东湖新技术开发区'"),  # much alike, and only the likest
        ("光谷区", "'东湖新技术开发区'"),
        ("东湖", "'东湖新技术开发区' or '东湖生态旅游风景区'"),  # the start of two
        ("经开", "'武汉经济技术开发区'"),  # the start of an alias
        ("高新区", "'东湖新技术开发区'"),  # within an alias, not 新洲区 (two of three alike)
        ("临空港", "'东西湖区'"),  # within an alias
        ("沌口", "'武汉经济技术开发区'"),  # the zone's heart, as Wuhan names it
        ("沌口区", "'武汉经济技术开发区'"),  # no district, but meant as the zone
        ("车都", "'武汉经济技术开发区'"),  # its nickname
    ],
)
def test_a_near_spelling_is_refused_with_the_name_meant(written: str, meant: str) -> None:
    assert refusal(WUHAN, written).message.endswith(f"did you mean {meant}?")


#: Not a near spelling of any: another city's district, a park that is no zone, a stem
#: mistyped, a lone character, the city itself.
UNLIKE = ["无人区", "武汉", "武汉市", "开发区", "朝阳区", "洪三区", "阳逻经开区", "江"]


@pytest.mark.parametrize("written", UNLIKE)
def test_a_name_like_none_is_refused_without_a_guess(written: str) -> None:
    # The city's name is no zone named after it; a part of many names is none of them.
    message = refusal(WUHAN, written).message
    assert message == f"{written!r} is not one of the 16 districts in the register"


async def test_a_query_may_name_a_listed_or_stored_district_and_no_other() -> None:
    stored = {"老城区"}
    asked: list[str] = []

    async def holds(name: str) -> bool:
        asked.append(name)
        return name in stored

    await WUHAN.require_queried(" 青山区", holds)
    assert asked == []  # a listed name needs no look-up
    await WUHAN.require_queried("老城区", holds)
    with pytest.raises(DomainError) as err:
        await WUHAN.require_queried("青山", holds, "scope.district")
    assert (err.value.code, err.value.field) == ("UNKNOWN_DISTRICT", "scope.district")
    assert err.value.message.endswith("did you mean '青山区'?")


CITY = """\
# Ezhou, for a test: comments and blank lines are skipped
name,kind,aliases,note

鄂城区,administrative_district,鄂城,
葛店开发区,FUNCTIONAL_ZONE,,"a zone, quoted"
"""


def test_a_city_file_replaces_wuhan(tmp_path: Path) -> None:
    path = tmp_path / "ezhou.csv"
    path.write_text(CITY, "utf-8")
    register = load_districts(path)
    assert [(d.name, d.kind) for d in register] == [
        ("鄂城区", DistrictKind.ADMINISTRATIVE_DISTRICT),
        ("葛店开发区", DistrictKind.FUNCTIONAL_ZONE),
    ]
    assert register.validate("鄂城区") == "鄂城区"
    assert "did you mean '鄂城区'?" in refusal(register, "鄂城").message
    refusal(register, "青山区")


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ezhou.csv"
    path.write_text(CITY, "utf-8-sig")
    assert load_districts(path).names == ("鄂城区", "葛店开发区")


def test_the_setting_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WASTEX_DISTRICTS_FILE", raising=False)
    assert ServiceSettings().districts_file is None
    (tmp_path / "ezhou.csv").write_text("name,kind\n鄂城区,administrative_district\n", "utf-8")
    monkeypatch.setenv("WASTEX_DISTRICTS_FILE", str(tmp_path / "ezhou.csv"))
    assert ServiceSettings().districts_file == tmp_path / "ezhou.csv"
    # One that is not there is refused as it is read (test_settings).


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("# only a comment\n", "no header row"),
        ("name,kind\n", "no districts"),
        ("name,aliases\n青山区,\n", "line 1: the header lacks kind"),
        ("name,kind\n青山区,district\n", "line 2: 青山区: kind 'district' is not"),
        ("name,kind\n,administrative_district\n", "line 2: a district needs a name"),
        ("name,kind\n青山区,administrative_district,extra\n", "line 2: 3 values for 2 columns"),
        ("name,kind\n青山区,administrative_district\n青山区,functional_zone\n", "listed twice"),
        ("name,kind,aliases\nA,functional_zone,B\nB,functional_zone,\n", "'B' is listed twice"),
        ("name,kind,aliases\nAb,functional_zone,\nC,functional_zone,a b\n", "'a b' is listed"),
    ],
)
def test_a_file_that_is_no_register_is_refused_naming_the_line(text: str, says: str) -> None:
    with pytest.raises(DistrictFileError) as err:
        parse_districts(text, "city.csv")
    assert str(err.value).startswith("city.csv")
    assert says in str(err.value)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DistrictFileError, match=r"nowhere\.csv"):
        load_districts(tmp_path / "nowhere.csv")
