"""How licence annual tonnage enters the flow network (see network.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from wastex_matching.domain import LicenceType, allocate
from wastex_matching.domain.network import LicenceClaims, rebalanced_allowances, split_in_proportion

TODAY = date(2026, 12, 1)
JIANGXIA = (30.380, 114.320)


def test_shares_are_proportional_and_add_up_exactly() -> None:
    shares = split_in_proportion(100, np.array([1, 1, 1], dtype=np.int64))
    assert shares.tolist() == [34, 33, 33]
    assert split_in_proportion(7, np.array([0, 5], dtype=np.int64)).tolist() == [0, 7]
    assert split_in_proportion(7, np.array([0, 0], dtype=np.int64)).tolist() == [0, 0]


def test_unused_share_moves_to_claimants_that_hit_theirs() -> None:
    claims = LicenceClaims(
        licence=0,
        capacity_kg=100,
        arcs=np.array([0, 1], dtype=np.int64),
        potentials_kg=np.array([80, 80], dtype=np.int64),
        allowances_kg=np.array([50, 50], dtype=np.int64),
    )
    used = np.array([20, 50], dtype=np.int64)
    rebalanced = rebalanced_allowances(claims, claims.allowances_kg, used)
    assert rebalanced is not None
    assert rebalanced.tolist() == [20, 80]
    assert rebalanced_allowances(claims, rebalanced, np.array([20, 80], dtype=np.int64)) is None


def test_a_site_mixing_two_binding_licences_never_exceeds_either(make: Any) -> None:
    # Site A takes SW01 (licence sw) and HW08 (licence hw); site B shares licence sw.
    site_a = make.demand("a", codes=("SW01", "HW08"), amount=300)
    site_b = make.demand("b", amount=300, at=JIANGXIA)
    sw = make.licence("sw", annual=150)
    hw = make.licence("hw", codes=("HW08",), kind=LicenceType.HAZARDOUS_WASTE_OPERATING, annual=50)
    offers = [
        make.offer("slag-1", amount=120),
        make.offer("slag-2", enterprise="factory-2", amount=120),
        make.offer("oil", enterprise="factory-3", code="HW08", amount=90),
    ]
    result = allocate(offers, [site_a, site_b], [sw, hw], today=TODAY)
    used: dict[str, Decimal] = {}
    for match in result.matches:
        used[match.licence_id] = used.get(match.licence_id, Decimal(0)) + match.tonnes
    assert used == {"sw": Decimal("150.000"), "hw": Decimal("50.000")}
    assert result.notes  # the split was needed and is reported
