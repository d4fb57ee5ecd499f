"""Settings of the catalog service (env prefix `WASTEX_CATALOG_`, common ones unprefixed)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from wastex_shared.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WASTEX_CATALOG_", extra="ignore")

    service: str = "catalog"
    port: int = 4001
