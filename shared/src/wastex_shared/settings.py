"""Settings every service shares; each service subclasses with its own env prefix.

Common names have no service prefix (`WASTEX_KAFKA_BOOTSTRAP`, `WASTEX_JWT_SECRET`,
`WASTEX_DATA_DIR`, `WASTEX_DISTRICTS_FILE`); service ones do (`WASTEX_CATALOG_DATABASE_URL`,
`WASTEX_CATALOG_PORT`).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from wastex_shared.auth import DEV_SECRET, JwtConfig
from wastex_shared.storage import sqlite_url_for


class ServiceSettings(BaseSettings):
    # populate_by_name: `Settings(kafka_bootstrap=...)` works beside the WASTEX_* env names.
    model_config = SettingsConfigDict(
        env_prefix="WASTEX_SERVICE_", extra="ignore", populate_by_name=True
    )

    #: The service's name: its database, consumer group and dead-letter topic.
    service: str = "service"
    host: str = "127.0.0.1"
    port: int = 4000
    database_url: str | None = None
    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", validation_alias=AliasChoices("WASTEX_KAFKA_BOOTSTRAP")
    )
    #: Replication factor for topics the service creates (3 on the deployed Kafka cluster).
    kafka_replication: int = Field(
        default=1, validation_alias=AliasChoices("WASTEX_KAFKA_REPLICATION")
    )
    jwt_secret: str = Field(default=DEV_SECRET, validation_alias=AliasChoices("WASTEX_JWT_SECRET"))
    jwt_public_key: str | None = Field(
        default=None, validation_alias=AliasChoices("WASTEX_JWT_PUBLIC_KEY")
    )
    #: Only where tokens are signed with RS256 (`wastex token`, `wastex dlq redrive`): the
    #: services verify with the public key alone.
    jwt_private_key: str | None = Field(
        default=None, validation_alias=AliasChoices("WASTEX_JWT_PRIVATE_KEY")
    )
    data_dir: Path = Field(default=Path(".data"), validation_alias=AliasChoices("WASTEX_DATA_DIR"))
    #: The city's district register (`wastex_shared.codes.district_file` describes the
    #: format); unset, the packaged one of Wuhan. Read once at start-up by the catalog, and
    #: by `wastex token` for a regulator's district.
    districts_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("WASTEX_DISTRICTS_FILE")
    )
    #: Records per consumer batch: one DB transaction and one offset commit each.
    consumer_batch_size: int = 500
    #: Kafka fetch wait: how long a fetch may wait for records. Low values trade broker
    #: round trips for latency. Measured on the dev stack (tansu, 2 cores): 10 ms cost 37 %
    #: of the machine with everything idle (every consumer polling 100 times a second),
    #: 50 ms 16 %, with the same offer → proposal latency (p50 75 ms at 4 offers/s).
    fetch_max_wait_ms: int = 50
    #: Allocations between young-generation collections (CPython's default is 700). A
    #: consumer batch or a matching round allocates tens of thousands of short-lived
    #: objects; at 700 they are traced several times over and survivors trigger full
    #: collections of the whole cached market (measured: a third of a 20k-offer round).
    gc_young_threshold: int = 50_000
    #: Seconds an idle HTTP connection is kept open: longer than a client or proxy keeps one
    #: idle (uvicorn's default, 5 s, was not). The server closing first races a request sent
    #: on the connection, which then fails ("socket hang up" in the gateway, a mutation
    #: answered INTERNAL_SERVER_ERROR; seen in a bench's set-up).
    http_keep_alive_seconds: int = 75

    @property
    def db_url(self) -> str:
        return self.database_url or sqlite_url_for(self.data_dir, self.service)

    @property
    def forgeable_from_afar(self) -> bool:
        """Whether the service would take tokens anyone could sign from other machines: the
        published dev secret (WASTEX_JWT_SECRET and a public key unset) or a secret shorter
        than 32 bytes, and it listens beyond loopback or reads a broker elsewhere (factories'
        messages carry tokens). A local stack, all on 127.0.0.1, may use the dev secret."""
        brokers = (_host_of(address) for address in self.kafka_bootstrap.split(","))
        local = _loopback(self.host) and all(_loopback(host) for host in brokers)
        return self.jwt.guessable and not local

    @property
    def jwt(self) -> JwtConfig:
        return JwtConfig(
            secret=self.jwt_secret,
            public_key=self.jwt_public_key,
            private_key=self.jwt_private_key,
        )


def _host_of(address: str) -> str:
    """The host of a `host:port` bootstrap address (`[::1]:9092` included)."""
    host = address.strip().rpartition(":")[0] or address.strip()
    return host.removeprefix("[").removesuffix("]")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere
