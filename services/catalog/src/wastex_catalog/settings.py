"""Settings of the catalog service (env prefix `WASTEX_CATALOG_`, common ones unprefixed)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from wastex_shared.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    # populate_by_name: `CatalogSettings(kafka_bootstrap=...)` works, not only the env alias.
    model_config = SettingsConfigDict(
        env_prefix="WASTEX_CATALOG_", extra="ignore", populate_by_name=True
    )

    service: str = "catalog"
    port: int = 4001
    #: Kafka consumer group of the ingest consumer; the matching-lifecycle consumer uses
    #: `<consumer_group>.matching`. Both dead-letter to `catalog.dlq.v1`.
    consumer_group: str = "catalog"
    #: How often offers and demands past their window are expired.
    expiry_sweep_seconds: float = Field(default=60.0, gt=0)
    #: Days a demand stays on the market after its holder's licences run out on their term,
    #: waiting for a renewal to be registered (decision 034; a revocation gives none). The
    #: days are counted when a licence change sets the demand's last licensed day.
    renewal_grace_days: int = Field(default=7, ge=0, le=366)
    #: Refuse sites outside China (swapped latitude/longitude is the usual cause).
    require_china: bool = True
