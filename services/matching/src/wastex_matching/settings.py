"""Settings of the matching service (env prefix `WASTEX_MATCHING_`, common ones unprefixed)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from wastex_shared.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WASTEX_MATCHING_", extra="ignore")

    service: str = "matching"
    port: int = 4002
