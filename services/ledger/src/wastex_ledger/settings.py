"""Settings of the ledger service (env prefix `WASTEX_LEDGER_`, common ones unprefixed)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from wastex_shared.settings import ServiceSettings


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WASTEX_LEDGER_", extra="ignore")

    service: str = "ledger"
    port: int = 4003
