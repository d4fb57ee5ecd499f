"""Settings of the matching service (env prefix `WASTEX_MATCHING_`, common ones unprefixed)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from wastex_shared.emission_factors import DEFAULT_FREIGHT_FACTOR, freight_factor_keys
from wastex_shared.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WASTEX_MATCHING_", extra="ignore")

    service: str = "matching"
    port: int = 4002
    #: Road distance ÷ great-circle distance (urban road networks measure 1.2–1.4).
    road_factor: float = Field(default=1.3, ge=1)
    #: Emission-factor key pricing transport (kg CO2e per tonne-km), recorded on each match.
    freight_factor_key: str = DEFAULT_FREIGHT_FACTOR
    #: Quiet time after the last offer/demand change before re-optimising a quiet market
    #: (micro-batch); changes that arrive during a round go into the next one at once.
    reoptimise_debounce_seconds: float = Field(default=0.05, ge=0)
    #: A change never waits longer than this for re-optimisation, however busy the feed.
    reoptimise_max_delay_seconds: float = Field(default=0.25, gt=0)
    #: How often the background task looks for changes it was not woken for.
    reoptimise_poll_seconds: float = Field(default=2.0, gt=0)
    #: Run the rounds and the expiry sweep in a child process (decision 014): in a thread
    #: of this one, planning held the GIL from the consumers, the relay and GraphQL. An
    #: in-memory database is one process's own, so there they always run in this one.
    reoptimiser_process: bool = True
    #: How often proposals whose shipping window has passed are expired.
    expiry_sweep_seconds: float = Field(default=300.0, gt=0)
    #: Other demands listed in a match's `alternatives`.
    alternatives_limit: int = Field(default=5, ge=0)
    #: Serve the live subscriptions (a group-less Kafka reader per process).
    live_feed: bool = True

    @field_validator("freight_factor_key")
    @classmethod
    def _a_freight_factor(cls, value: str) -> str:
        known = freight_factor_keys()
        if value not in known:
            raise ValueError(f"not a freight factor of emission-factors.csv: {', '.join(known)}")
        return value
