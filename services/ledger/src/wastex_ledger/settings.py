"""Settings of the ledger service (env prefix `WASTEX_LEDGER_`, common ones unprefixed)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from wastex_ledger.adapters.rules import load_rules
from wastex_ledger.domain.closing import DEFAULT_CLOSE, YearClose
from wastex_shared.errors import DomainError
from wastex_shared.settings import ServiceSettings


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WASTEX_LEDGER_", extra="ignore")

    service: str = "ledger"
    port: int = 4003
    #: A receipt whose weight differs from the dispatched weight by more than this fraction
    #: is a DISCREPANCY (`WASTEX_LEDGER_WEIGHT_TOLERANCE`, default 2 %).
    weight_tolerance: Decimal = Field(default=Decimal("0.02"), ge=0, le=1)
    #: A shipment may weigh up to this fraction more than its match planned (a lorry is not
    #: loaded to the kilogram); a heavier one is refused, since the recycler's licence and
    #: the offer counted only what was planned (`WASTEX_LEDGER_LOAD_OVER_PLAN`, 10 %).
    load_over_plan: Decimal = Field(default=Decimal("0.10"), ge=0, le=10)
    #: A YAML file of zero-waste rules replacing the packaged `zero_waste_rules.yaml`.
    zero_waste_rules: Path | None = None
    #: Days a revocation is in force before it calls off the shipments it leaves no licence
    #: (time for a renewal to be registered and a shipment that left before to be reported).
    revocation_grace_days: int = Field(default=7, ge=0, le=366)
    #: How often the revocation sweep looks (seconds; a revocation stored wakes it at once).
    revocation_sweep_seconds: float = Field(default=60.0, gt=0)
    #: Hours a report read from Kafka waits for its site's fact before it is parked
    #: UNKNOWN_SITE (decision 029; 0: parked by the next sweep).
    report_wait_hours: float = Field(default=24.0, ge=0, le=720)
    #: How often the reports waiting for their site are looked at (seconds).
    report_wait_sweep_seconds: float = Field(default=60.0, gt=0)
    #: The day of the next year a year's books close on, "MM-DD" in China's calendar: the
    #: day itself open, from the day after nothing more is booked to the year (decision 036).
    year_closes_on: str = str(DEFAULT_CLOSE)
    #: Serve `manifestChanged` (a group-less Kafka reader of the manifest topics per process).
    live_feed: bool = True

    @field_validator("year_closes_on")
    @classmethod
    def _a_day_of_every_year(cls, value: str) -> str:
        return str(YearClose.parse(value))

    @field_validator("zero_waste_rules")
    @classmethod
    def _rules_that_read(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                load_rules(value)  # read again where it is used; a bad file stops here
            except OSError as exc:
                raise ValueError(f"cannot read {value}: {exc.strerror}") from None
            except DomainError as exc:
                raise ValueError(exc.message) from None
        return value

    @property
    def year_close(self) -> YearClose:
        return YearClose.parse(self.year_closes_on)
