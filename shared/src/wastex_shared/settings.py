"""Settings every service shares; each service subclasses with its own env prefix.

Common names have no service prefix (`WASTEX_KAFKA_BOOTSTRAP`, `WASTEX_JWT_SECRET`,
`WASTEX_DATA_DIR`, `WASTEX_DISTRICTS_FILE`); service ones do (`WASTEX_CATALOG_DATABASE_URL`,
`WASTEX_CATALOG_PORT`).

A value that cannot be used (a port that is no number, a bootstrap address without a port
number, a database URL SQLAlchemy cannot read, a public key that is not PEM, a district file
that is not a register, a negative count) is refused when the settings are read:
`load_settings` says which setting and why, one line each (`SettingsError`), where a service
would otherwise start and fail on its first request, or stop on a traceback.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from wastex_shared.auth import DEV_SECRET, JwtConfig
from wastex_shared.codes.district_file import DistrictFileError, load_districts
from wastex_shared.storage import sqlite_url_for

#: The database drivers the services run on (asyncio ones).
DRIVERS = ("postgresql+asyncpg", "sqlite+aiosqlite")
#: Settings whose value is never repeated in a message.
SECRET_SETTINGS = ("jwt_secret", "jwt_public_key", "jwt_private_key")


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
        default=1, ge=1, validation_alias=AliasChoices("WASTEX_KAFKA_REPLICATION")
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
    consumer_batch_size: int = Field(default=500, ge=1)
    #: Kafka fetch wait: how long a fetch may wait for records. Low values trade broker
    #: round trips for latency. Measured on the dev stack (tansu, 2 cores): 10 ms cost 37 %
    #: of the machine with everything idle (every consumer polling 100 times a second),
    #: 50 ms 16 %, with the same offer → proposal latency (p50 75 ms at 4 offers/s).
    fetch_max_wait_ms: int = Field(default=50, ge=0)
    #: Allocations between young-generation collections (CPython's default is 700). A
    #: consumer batch or a matching round allocates tens of thousands of short-lived
    #: objects; at 700 they are traced several times over and survivors trigger full
    #: collections of the whole cached market (measured: a third of a 20k-offer round).
    gc_young_threshold: int = Field(default=50_000, ge=1)
    #: Seconds an idle HTTP connection is kept open: longer than a client or proxy keeps one
    #: idle (uvicorn's default, 5 s, was not). The server closing first races a request sent
    #: on the connection, which then fails ("socket hang up" in the gateway, a mutation
    #: answered INTERNAL_SERVER_ERROR; seen in a bench's set-up).
    http_keep_alive_seconds: int = Field(default=75, ge=1)

    # Validators of the base apply to a service's own default of the same field (`port`).
    @field_validator("port")
    @classmethod
    def _a_port(cls, value: int) -> int:
        if not 0 < value < 65536:
            raise ValueError("a port is a number from 1 to 65535")
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _addresses(cls, value: str) -> str:
        problem = bootstrap_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("database_url")
    @classmethod
    def _a_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            driver = make_url(value).drivername
        except ArgumentError:
            raise ValueError(
                "not a database URL (e.g. postgresql+asyncpg://user@host:5432/wastex_catalog)"
            ) from None
        if driver not in DRIVERS:
            raise ValueError(f"the driver {driver!r} is not one of {', '.join(DRIVERS)}")
        return value

    @field_validator("jwt_public_key")
    @classmethod
    def _an_rsa_public_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            key = load_pem_public_key(value.encode())
        except (ValueError, TypeError):
            raise ValueError(
                "not a PEM public key (-----BEGIN PUBLIC KEY----- …): tokens are verified "
                "with RS256 against it"
            ) from None
        if not isinstance(key, RSAPublicKey):
            raise ValueError("not an RSA key: tokens are verified with RS256")
        return value

    @field_validator("districts_file")
    @classmethod
    def _a_register(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                load_districts(value)  # read again where it is used; a bad one stops here
            except DistrictFileError as exc:
                raise ValueError(str(exc)) from None
        return value

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


def bootstrap_problem(bootstrap: str) -> str | None:
    """What is wrong with a Kafka bootstrap list (`host[:port],…`, Kafka's 9092 where no
    port is given), or None."""
    for address in bootstrap.split(","):
        host, colon, port = address.strip().rpartition(":")
        if not colon:
            host, port = port, "9092"
        if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
            return f"{address.strip()!r} is not host:port"
    return None


class SettingsError(ValueError):
    """Settings that cannot be used: one line per setting, naming its variable and why."""


S = TypeVar("S", bound=BaseSettings)


def load_settings(settings_type: type[S]) -> S:
    """`settings_type()` read from the environment, or SettingsError."""
    try:
        return settings_type()
    except ValidationError as exc:
        raise SettingsError(settings_problems(exc, settings_type)) from None


def settings_problems(error: ValidationError, settings_type: type[BaseSettings]) -> str:
    named = _variables(settings_type)
    lines = []
    for problem in error.errors():
        field, variable = named.get(str(problem["loc"][0] if problem["loc"] else ""), ("", ""))
        why = problem["msg"].removeprefix("Value error, ")
        if not field or field in SECRET_SETTINGS:
            lines.append(f"{variable or 'settings'}: {why}")
        else:
            lines.append(f"{variable}={problem['input']!r}: {why}")
    return "\n".join(lines)


def _variables(settings_type: type[BaseSettings]) -> dict[str, tuple[str, str]]:
    """(field, environment variable) by field name and by alias: an error names either."""
    prefix = settings_type.model_config.get("env_prefix", "")
    named: dict[str, tuple[str, str]] = {}
    for field, info in settings_type.model_fields.items():
        alias = info.validation_alias
        variable = str(alias.choices[0]) if isinstance(alias, AliasChoices) else ""
        named[field] = named[variable] = (field, variable or f"{prefix}{field.upper()}")
    return named


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
