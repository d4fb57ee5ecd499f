"""Fixtures for the matching domain specs: a factory of slots, random cities, an LP oracle.

The LP oracle is deliberately independent of the optimiser: it finds feasible (offer,
demand, licence) triples with the scalar rules (`assess_pair`), not the vectorised edge
builder, and models every licence's annual tonnage exactly (one row per licence), which a
network flow cannot do in general. scipy is a dev dependency, so the oracle lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from wastex_matching.domain import (
    DemandSlot,
    FixedMatch,
    LicenceType,
    LicenceView,
    MatchingParams,
    OfferSlot,
    Point,
    Window,
    apply_fixed,
    assess_pair,
)

TODAY = date(2026, 12, 1)
QINGSHAN = (30.640, 114.410)  # steel works
YANGLUO = (30.700, 114.560)  # port and power plant, ~16 km east-north-east of Qingshan
JIANGXIA = (30.380, 114.320)  # cement, ~30 km south of Qingshan
HANNAN = (30.320, 114.080)  # car plants, ~47 km south-west of Qingshan


def tonnes(value: str | int) -> Decimal:
    return Decimal(value).quantize(Decimal("0.001"))


@dataclass(frozen=True)
class Factory:
    """Builds slots with sensible defaults; every argument can be overridden."""

    today: date = TODAY

    def window(self, start: int = 0, days: int = 120) -> Window:
        first = self.today + timedelta(days=start)
        return Window(first, first + timedelta(days=days))

    def offer(
        self,
        offer_id: str = "offer-1",
        *,
        enterprise: str = "factory-1",
        code: str = "SW01",
        amount: str | int = "100",
        at: tuple[float, float] = QINGSHAN,
        window: Window | None = None,
    ) -> OfferSlot:
        return OfferSlot(
            offer_id=offer_id,
            enterprise_id=enterprise,
            site_id=f"site-{offer_id}",
            district="青山区",
            point=Point(*at),
            waste_code=code,
            remaining_tonnes=tonnes(amount),
            window=window or self.window(),
        )

    def demand(
        self,
        demand_id: str = "demand-1",
        *,
        enterprise: str = "recycler-1",
        codes: Sequence[str] = ("SW01",),
        amount: str | int = "100",
        at: tuple[float, float] = YANGLUO,
        radius_km: str | int = "50",
        window: Window | None = None,
    ) -> DemandSlot:
        return DemandSlot(
            demand_id=demand_id,
            enterprise_id=enterprise,
            site_id=f"site-{demand_id}",
            district="新洲区",
            point=Point(*at),
            waste_codes=frozenset(codes),
            remaining_tonnes=tonnes(amount),
            max_distance_km=Decimal(radius_km),
            window=window or self.window(),
        )

    def licence(
        self,
        licence_id: str = "licence-1",
        *,
        enterprise: str = "recycler-1",
        codes: Sequence[str] = ("SW01",),
        kind: LicenceType = LicenceType.GENERAL_UTILISATION,
        annual: str | int = "10000",
        valid_from: date = date(2026, 1, 1),
        valid_until: date = date(2028, 12, 31),
        used: str | int = "0",
    ) -> LicenceView:
        return LicenceView(
            licence_id=licence_id,
            enterprise_id=enterprise,
            waste_codes=frozenset(codes),
            licence_type=kind,
            annual_capacity_tonnes=tonnes(annual),
            valid_from=valid_from,
            valid_until=valid_until,
            used_tonnes_this_year=tonnes(used),
        )


@pytest.fixture(scope="session")
def make() -> Factory:
    return Factory()


@dataclass(frozen=True)
class City:
    offers: tuple[OfferSlot, ...]
    demands: tuple[DemandSlot, ...]
    licences: tuple[LicenceView, ...]
    fixed: tuple[FixedMatch, ...] = ()


SW_CODES = ("SW01", "SW02", "SW06")
HW_CODES = ("HW08", "HW17")


def random_city(
    seed: int,
    n_offers: int,
    n_demands: int,
    *,
    tightness: float = 1.0,
    shared_sites: float = 0.3,
    with_fixed: bool = False,
    one_licence: bool = False,
    renewals: bool = False,
) -> City:
    """A small random city exercising every rule: SW and HW codes, enterprises with two sites
    sharing licences, licences that bind, expire, start late or list HW codes under the
    wrong type, windows that miss, radii that fall short, and (optionally) fixed matches.
    With `one_licence` each recycler holds one licence (no demand then has two licences
    able to carry a code, nor a licence several claimants share). With `renewals` a licence
    running out on 31 December may have successors: from 1 January or a day later, listing
    the same codes or fewer, of either type, some revoked before or soon after they begin."""
    rng = np.random.default_rng(seed)
    factory = Factory()
    codes = SW_CODES + HW_CODES

    def point() -> tuple[float, float]:
        return (
            round(float(rng.uniform(30.35, 30.75)), 5),
            round(float(rng.uniform(114.05, 114.55)), 5),
        )

    def window(lo: int, hi: int, length: tuple[int, int]) -> Window:
        return factory.window(int(rng.integers(lo, hi)), int(rng.integers(*length)))

    def supplier() -> str:
        # Now and then a recycler is also a supplier (its own demand is then off limits).
        if rng.random() < 0.1:
            return f"r{int(rng.integers(0, n_demands))}"
        return f"e{int(rng.integers(0, max(1, n_offers // 3)))}"

    offers = tuple(
        factory.offer(
            f"o{i}",
            enterprise=supplier(),
            code=str(rng.choice(codes, p=[0.35, 0.25, 0.15, 0.15, 0.10])),
            amount=int(rng.integers(1, 400)),
            at=point(),
            window=window(-40, 90, (10, 120)),
        )
        for i in range(n_offers)
    )
    demands: list[DemandSlot] = []
    enterprise_of: list[str] = []
    for j in range(n_demands):
        same = j > 0 and rng.random() < shared_sites
        enterprise = enterprise_of[-1] if same else f"r{j}"
        enterprise_of.append(enterprise)
        k = int(rng.integers(1, 4))
        demands.append(
            factory.demand(
                f"d{j}",
                enterprise=enterprise,
                codes=tuple(rng.choice(codes, size=k, replace=False)),
                amount=int(rng.integers(1, int(600 * tightness) + 2)),
                at=point(),
                radius_km=int(rng.integers(5, 60)),
                window=window(-60, 60, (30, 240)),
            )
        )
    licences: list[LicenceView] = []
    for n, enterprise in enumerate(sorted(set(enterprise_of))):
        wanted = sorted(
            {c for d in demands if d.enterprise_id == enterprise for c in d.waste_codes}
        )
        for m in range(1 if one_licence else int(rng.integers(1, 4))):
            kind = (
                LicenceType.HAZARDOUS_WASTE_OPERATING
                if rng.random() < 0.5
                else LicenceType.GENERAL_UTILISATION
            )
            listed = tuple(c for c in wanted if rng.random() < 0.7) or tuple(wanted[:1])
            start = date(2026, 1, 1) if rng.random() < 0.85 else TODAY + timedelta(days=40)
            end = date(2028, 12, 31) if rng.random() < 0.85 else TODAY + timedelta(days=30)
            licences.append(
                factory.licence(
                    f"l{n}-{m}",
                    enterprise=enterprise,
                    codes=listed,
                    kind=kind,
                    annual=int(rng.integers(1, int(1500 * tightness) + 2)),
                    valid_from=start,
                    valid_until=end,
                    used=int(rng.integers(0, 50)) if rng.random() < 0.2 else 0,
                )
            )
            last, k = end, 0
            while renewals and (last == TODAY + timedelta(days=30) or rng.random() < 0.4):
                # A successor (a renewal, or a licence of another type) from the day after
                # `last`, a day later (a gap), or overlapping it.
                begins = last + timedelta(days=int(rng.choice([1, 1, 1, 2, -5])))
                ends = date(int(rng.choice([2027, 2028])), 12, 31)
                if rng.random() < 0.3:  # revoked before it began, or a few days in
                    ends = begins + timedelta(days=int(rng.integers(-1, 20)))
                licences.append(
                    factory.licence(
                        f"l{n}-{m}-r{k}",
                        enterprise=enterprise,
                        codes=tuple(c for c in listed if rng.random() < 0.8) or listed[:1],
                        kind=kind if rng.random() < 0.8 else LicenceType.GENERAL_UTILISATION,
                        annual=int(rng.integers(1, int(1500 * tightness) + 2)),
                        valid_from=begins,
                        valid_until=ends,
                    )
                )
                last, k = max(last, ends), k + 1
    fixed: list[FixedMatch] = []
    if with_fixed and offers and demands:
        for k in range(int(rng.integers(0, 4))):
            offer = offers[int(rng.integers(0, len(offers)))]
            demand = demands[int(rng.integers(0, len(demands)))]
            own = [lic for lic in licences if lic.enterprise_id == demand.enterprise_id]
            lic = own[int(rng.integers(0, len(own)))] if own else None
            fixed.append(
                FixedMatch(
                    match_id=f"m{k}",
                    offer_id=offer.offer_id,
                    demand_id=demand.demand_id,
                    licence_id=lic.licence_id if lic else None,
                    tonnes=tonnes(int(rng.integers(1, 80))),
                    licence_year=TODAY.year if rng.random() < 0.8 else TODAY.year - 1,
                )
            )
    return City(offers, tuple(demands), tuple(licences), tuple(fixed))


#: Arguments of `random_city` for property tests (a seed and a shape).
cities = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "n_offers": st.integers(1, 35),
        "n_demands": st.integers(1, 12),
        "tightness": st.sampled_from([0.1, 0.5, 1.0, 3.0]),
        "shared_sites": st.sampled_from([0.0, 0.5, 0.9]),
    }
)


@pytest.fixture(scope="session")
def city() -> Callable[..., City]:
    return random_city


LpOracle = Callable[[City, MatchingParams], float]


def lp_optimum(city: City, params: MatchingParams) -> float:
    """Minimum kg CO2e (transport + unmatched penalty) over all feasible flows, by HiGHS."""
    net = apply_fixed(city.offers, city.demands, city.licences, city.fixed, TODAY)
    licence_row = {lic.licence_id: k for k, lic in enumerate(net.licences)}
    per_tkm = float(params.freight_factor().value)
    rows_o: list[int] = []
    rows_d: list[int] = []
    rows_l: list[int] = []
    costs: list[float] = []
    for i, offer in enumerate(net.offers):
        for j, demand in enumerate(net.demands):
            verdict = assess_pair(
                offer, demand, net.licences, TODAY, road_factor=params.road_factor
            )
            for ident in verdict.usable_licence_ids:
                rows_o.append(i)
                rows_d.append(j)
                rows_l.append(licence_row[ident])
                costs.append(verdict.distance_metres / 1000.0 * per_tkm)
    n_e, n_o, n_d, n_l = len(costs), len(net.offers), len(net.demands), len(net.licences)
    supply = np.array([float(o.remaining_tonnes) for o in net.offers])
    penalty = float(params.penalty_kg_per_tonne)
    if n_e == 0:
        return float(supply.sum() * penalty)
    cols = np.arange(n_e)
    a_eq = coo_matrix(
        (np.ones(n_e + n_o), (np.r_[rows_o, np.arange(n_o)], np.r_[cols, n_e + np.arange(n_o)])),
        shape=(n_o, n_e + n_o),
    )
    a_ub = coo_matrix(
        (np.ones(2 * n_e), (np.r_[rows_d, n_d + np.array(rows_l)], np.r_[cols, cols])),
        shape=(n_d + n_l, n_e + n_o),
    )
    b_ub = np.r_[
        [float(d.remaining_tonnes) for d in net.demands],
        [float(lic.remaining_tonnes) for lic in net.licences],
    ]
    solution = linprog(
        np.r_[costs, np.full(n_o, penalty)],
        A_ub=a_ub.tocsr(),
        b_ub=b_ub,
        A_eq=a_eq.tocsr(),
        b_eq=supply,
        bounds=(0, None),
        method="highs",
    )
    assert solution.status == 0, solution.message
    return float(solution.fun)


@pytest.fixture(scope="session")
def lp_oracle() -> LpOracle:
    return lp_optimum
