"""The demo city: a few Wuhan-like factories and recyclers, their licences, offers and reports.

Names are made up; districts and coordinates are real places, so distances are realistic.
Its dates are counted from the day it is seeded (`DemoDates`), so that it loads any day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from wastex_shared.calendar import Dates


@dataclass(frozen=True)
class DemoSite:
    name: str
    district: str
    latitude: str
    longitude: str


@dataclass(frozen=True)
class DemoLicence:
    number: str
    waste_codes: tuple[str, ...]
    annual_capacity_tonnes: str
    type: str = "GENERAL_UTILISATION"


@dataclass(frozen=True)
class DemoOffer:
    waste_code: str
    quantity_tonnes: str
    description: str


@dataclass(frozen=True)
class DemoDemand:
    waste_codes: tuple[str, ...]
    quantity_tonnes: str
    max_distance_km: str


@dataclass(frozen=True)
class DemoReport:
    mutation: str  # reportGeneration | reportInPlantUtilisation | reportStorage | …
    waste_code: str
    tonnes: str


@dataclass(frozen=True)
class DemoEnterprise:
    name: str
    credit_body: str  # the first 17 characters; the check character is computed
    industry: str
    district: str
    kind: str
    site: DemoSite
    licences: tuple[DemoLicence, ...] = ()
    offers: tuple[DemoOffer, ...] = ()
    demands: tuple[DemoDemand, ...] = ()
    reports: tuple[DemoReport, ...] = field(default=())


@dataclass(frozen=True)
class DemoDates:
    """The demo city's dates when seeded on `today` (China's day): offers and demands are
    available from the first of next month for seven months, licences run from 1 January
    of this year for three years, and the reports are last month's (over, and its year
    still open: a year closes on 31 March of the next by default, decision 036)."""

    window: tuple[str, str]
    licence_validity: tuple[str, str]
    report_period: str

    @classmethod
    def on(cls, today: date) -> DemoDates:
        dates = Dates(today)
        return cls(dates.window(7), dates.licence_validity(3), dates.month(-1))


CITY: tuple[DemoEnterprise, ...] = (
    DemoEnterprise(
        "青山钢铁有限公司",
        "91420107MA4K0001A",
        "C3120",
        "青山区",
        "FACTORY",
        DemoSite("青山炼钢厂", "青山区", "30.6400", "114.4100"),
        offers=(
            DemoOffer("SW01", "1200.000", "BOF steel slag, < 10 mm, low free lime"),
            DemoOffer("SW03", "400.000", "Boiler bottom ash"),
        ),
        reports=(
            DemoReport("reportGeneration", "SW01", "1500.000"),
            DemoReport("reportInPlantUtilisation", "SW01", "300.000"),
            DemoReport("reportStorage", "SW01", "1200.000"),
        ),
    ),
    DemoEnterprise(
        "阳逻热电有限公司",
        "91420117MA4K0002B",
        "D4411",
        "新洲区",
        "FACTORY",
        DemoSite("阳逻电厂", "新洲区", "30.6850", "114.5600"),
        offers=(
            DemoOffer("SW02", "3000.000", "Class II fly ash, dry, silo-stored"),
            DemoOffer("SW06", "800.000", "FGD gypsum, 10 % moisture"),
        ),
        reports=(
            DemoReport("reportGeneration", "SW02", "3200.000"),
            DemoReport("reportInPlantUtilisation", "SW02", "200.000"),
            DemoReport("reportStorage", "SW02", "3000.000"),
        ),
    ),
    DemoEnterprise(
        "汉阳汽车零部件有限公司",
        "91420105MA4K0003C",
        "C3670",
        "汉阳区",
        "FACTORY",
        DemoSite("汉阳冲压厂", "汉阳区", "30.5450", "114.2000"),
        offers=(
            DemoOffer("SW17", "150.000", "Steel stamping offcuts, baled"),
            DemoOffer("HW08", "12.000", "Spent hydraulic and cutting oil in IBCs"),
        ),
        reports=(
            DemoReport("reportGeneration", "SW17", "160.000"),
            DemoReport("reportInPlantUtilisation", "SW17", "10.000"),
            DemoReport("reportStorage", "SW17", "150.000"),
            # The oil on offer waits in IBCs at the works, not in storage: shippable as is.
            DemoReport("reportGeneration", "HW08", "12.000"),
        ),
    ),
    DemoEnterprise(
        "江夏水泥有限公司",
        "91420115MA4K0004D",
        "C3011",
        "江夏区",
        "FACTORY",
        DemoSite("江夏水泥窑", "江夏区", "30.3600", "114.3000"),
        licences=(DemoLicence("鄂环利[2026]001", ("SW01", "SW02", "SW03", "SW06"), "50000"),),
        demands=(DemoDemand(("SW01", "SW02", "SW06"), "4000.000", "80"),),
    ),
    DemoEnterprise(
        "东西湖新型建材有限公司",
        "91420112MA4K0005E",
        "C3031",
        "东西湖区",
        "RECYCLER",
        DemoSite("东西湖砌块厂", "东西湖区", "30.6300", "114.1300"),
        licences=(DemoLicence("鄂环利[2026]002", ("SW02", "SW03", "SW06"), "20000"),),
        demands=(DemoDemand(("SW02", "SW06"), "2000.000", "60"),),
    ),
    DemoEnterprise(
        "黄陂再生资源有限公司",
        "91420116MA4K0006F",
        "C4210",
        "黄陂区",
        "RECYCLER",
        DemoSite("黄陂回收中心", "黄陂区", "30.8700", "114.3800"),
        licences=(DemoLicence("鄂环利[2026]003", ("SW17",), "10000"),),
        demands=(DemoDemand(("SW17",), "500.000", "100"),),
    ),
    DemoEnterprise(
        "武汉危废处置有限公司",
        "91420114MA4K0007G",
        "N7724",
        "蔡甸区",
        "RECYCLER",
        DemoSite("蔡甸处置中心", "蔡甸区", "30.5900", "114.0400"),
        licences=(
            DemoLicence(
                "鄂危废经第[2026]008号",
                ("HW08", "HW17", "HW31", "HW49"),
                "15000",
                "HAZARDOUS_WASTE_OPERATING",
            ),
        ),
        demands=(DemoDemand(("HW08", "HW17"), "100.000", "120"),),
    ),
)
