"""Fixtures for the catalog domain tests: one factory, one recycler, their sites and licences."""

from __future__ import annotations

from datetime import date

import pytest

from wastex_catalog.domain import Licence, LicenceType, Site
from wastex_shared.codes.district_file import load_districts

FACTORY_ID = "ent-steel"
RECYCLER_ID = "ent-cement"
#: The packaged register (Wuhan's) the sites below are checked against.
DISTRICTS = load_districts()


@pytest.fixture
def factory_site() -> Site:
    return Site.add(
        id="site-steel",
        enterprise_id=FACTORY_ID,
        name="Qingshan works",
        district="青山区",
        latitude=30.64,
        longitude=114.43,
        districts=DISTRICTS,
    )


@pytest.fixture
def recycler_site() -> Site:
    return Site.add(
        id="site-cement",
        enterprise_id=RECYCLER_ID,
        name="Xinzhou kiln",
        district="新洲区",
        latitude=30.84,
        longitude=114.80,
        districts=DISTRICTS,
    )


@pytest.fixture
def general_licence() -> Licence:
    return Licence.register(
        id="lic-general",
        enterprise_id=RECYCLER_ID,
        number="鄂固利 2026-001",
        waste_codes=["SW01", "SW02"],
        annual_capacity_tonnes="50000",
        valid_from=date(2026, 1, 1),
        valid_until=date(2027, 12, 31),
    )


@pytest.fixture
def hazardous_licence() -> Licence:
    return Licence.register(
        id="lic-hw",
        enterprise_id=RECYCLER_ID,
        number="鄂危废经 2026-017",
        waste_codes=["HW08", "SW03"],
        annual_capacity_tonnes="8000",
        valid_from=date(2026, 1, 1),
        valid_until=date(2028, 12, 31),
        type=LicenceType.HAZARDOUS_WASTE_OPERATING,
    )
