"""The league table's pure parts: positions, the rateBelow threshold, who may rank whom."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wastex_ledger.domain.figures import Figures, Utilisation
from wastex_ledger.domain.league import NO_RATE, position_of, positions_below
from wastex_ledger.domain.scope import Scope, WasteClass, class_suffixes
from wastex_ledger.entrypoints.graphql.policy import league_district
from wastex_shared.auth import Principal, Role
from wastex_shared.errors import DomainError, NotAuthorized

D = Decimal
#: Rates as shown: 4 places, from 0 to a little over 1.
RATES = st.integers(min_value=0, max_value=12_000).map(lambda n: D(n) / 10_000)
THRESHOLDS = st.decimals(min_value=0, max_value=1, places=6)
TONNES = st.decimals(min_value=0, max_value=10**6, places=3)


def test_a_position_is_the_shown_rate_in_ten_thousandths_and_no_rate_comes_last() -> None:
    assert position_of(D("0.0000")) == 0
    assert position_of(D("0.7999")) == 7_999
    assert position_of(D("1.0000")) == 10_000
    assert position_of(None) == NO_RATE
    assert position_of(D("1.2000")) < NO_RATE


@given(RATES, RATES)
def test_positions_order_rows_as_their_rates(a: Decimal, b: Decimal) -> None:
    assert (position_of(a) < position_of(b)) == (a < b)
    assert position_of(a) < position_of(None)


@given(RATES, THRESHOLDS)
def test_rate_below_keeps_exactly_the_rates_under_it(rate: Decimal, below: Decimal) -> None:
    assert (position_of(rate) < positions_below(below)) == (rate < below)
    assert not position_of(None) < positions_below(below)


def test_rate_below_counts_the_shown_places_only() -> None:
    assert positions_below(D("0.8")) == 8_000  # 0.8000 is not below 80 %
    assert positions_below(D("0.80005")) == 8_001  # 0.8000 is
    assert (positions_below(D("0")), positions_below(D("1"))) == (0, 10_000)


@pytest.mark.parametrize("wrong", ["-0.0001", "1.0001", "80", "NaN", "Infinity", "-Infinity"])
def test_rate_below_outside_zero_to_one_is_refused_naming_the_argument(wrong: str) -> None:
    with pytest.raises(DomainError) as refused:
        positions_below(D(wrong))
    assert (refused.value.code, refused.value.field) == ("INVALID_RATE", "rateBelow")


@given(TONNES, TONNES, TONNES, TONNES, TONNES)
def test_the_rates_columns_are_the_named_figures(
    generated: Decimal, in_plant: Decimal, in_plant_prior: Decimal, out: Decimal, out_prior: Decimal
) -> None:
    """The SQL ranks by UTILISED_COLUMNS and DENOMINATOR_COLUMNS: the same sums as the
    named figures the rate is made of."""
    u = Utilisation(
        Figures(
            generated=generated,
            in_plant_current=in_plant,
            in_plant_prior=in_plant_prior,
            transferred_out_current=out,
            transferred_out_prior=out_prior,
        )
    )
    assert u.utilised == u.utilised_in_plant + u.transferred_for_utilisation
    assert u.denominator == u.generated + u.prior_stock_utilised


def test_an_enterprise_scope_sums_the_rows_its_class_suffixes_name() -> None:
    assert class_suffixes(WasteClass.GENERAL) == ["|general"]
    assert class_suffixes(WasteClass.ALL) == ["|general", "|hazardous"]
    for covers in WasteClass:
        keys = Scope(enterprise_id="ent-1", waste_class=covers).keys
        assert keys == [("enterprise", "ent-1" + s) for s in class_suffixes(covers)]


def principal(
    role: Role, enterprise_id: str | None = None, district: str | None = None
) -> Principal:
    return Principal(subject="t", role=role, enterprise_id=enterprise_id, district=district)


def test_a_district_regulator_ranks_its_own_district_only() -> None:
    qingshan = principal(Role.REGULATOR, district="青山区")
    assert league_district(qingshan, None) == "青山区"
    assert league_district(qingshan, "青山区") == "青山区"
    with pytest.raises(NotAuthorized) as refused:
        league_district(qingshan, "新洲区")
    assert refused.value.field == "district"


@pytest.mark.parametrize(
    "caller", [principal(Role.REGULATOR, district="*"), principal(Role.ADMIN)], ids=str
)
def test_a_city_regulator_and_an_admin_rank_any_district_or_the_city(caller: Principal) -> None:
    assert league_district(caller, None) is None
    assert league_district(caller, "新洲区") == "新洲区"


@pytest.mark.parametrize(
    "caller",
    [
        None,
        principal(Role.ENTERPRISE, enterprise_id="ent-1"),
        principal(Role.RECYCLER, enterprise_id="ent-2"),
    ],
    ids=["no token", "enterprise", "recycler"],
)
def test_tenants_and_strangers_rank_nobody(caller: Principal | None) -> None:
    for district in (None, "青山区"):
        with pytest.raises(NotAuthorized):
            league_district(caller, district)
