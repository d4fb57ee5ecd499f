"""The `wastex` command: tokens verify with the same secret the services use."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from typer.testing import CliRunner, Result

from wastex_cli.dlq import DeadLetter, decode, redrive_headers
from wastex_cli.main import app
from wastex_shared.auth import JwtConfig, Role, ingest_authenticator, verify_token
from wastex_shared.envelope import Envelope
from wastex_shared.errors import DomainError
from wastex_shared.settings import ServiceSettings
from wastex_shared.storage import make_engine
from wastex_shared.storage.presence import running_on

runner = CliRunner()


@pytest.fixture(autouse=True)
def wuhan_register(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests name Wuhan's districts: a register file set in the shell must not apply."""
    monkeypatch.delenv("WASTEX_DISTRICTS_FILE", raising=False)


def test_token_for_an_enterprise_carries_its_role_and_enterprise() -> None:
    result = runner.invoke(app, ["token", "--role", "enterprise", "--enterprise", "ent-1"])
    assert result.exit_code == 0, result.output
    principal = verify_token(ServiceSettings().jwt, result.output.strip())
    assert principal.role is Role.ENTERPRISE
    assert principal.enterprise_id == "ent-1"


def test_regulator_token_carries_its_district() -> None:
    result = runner.invoke(app, ["token", "--role", "regulator", "--district", "青山区"])
    assert result.exit_code == 0, result.output
    assert verify_token(ServiceSettings().jwt, result.output.strip()).district == "青山区"


def said(output: str) -> str:
    """What the command printed, without the box and the line breaks it is wrapped in."""
    return "".join(output.replace("│", "").split())


def test_a_regulator_token_names_a_district_of_the_register_or_is_refused() -> None:
    result = runner.invoke(app, ["token", "--role", "regulator", "--district", "青山"])
    assert result.exit_code != 0
    assert "'青山'isnotoneofthe16districtsintheregister;didyoumean'青山区'?" in said(result.output)
    result = runner.invoke(app, ["token", "--role", "regulator", "--district", "无人区"])
    assert result.exit_code != 0
    assert "intheregister:江岸区,江汉区," in said(result.output)  # no near name: all of them


def test_a_regulator_token_carries_the_district_as_the_register_writes_it() -> None:
    for given, carried in ((" 青山区 ", "青山区"), ("*", "*")):  # '*': the whole city
        result = runner.invoke(app, ["token", "--role", "regulator", "--district", given])
        assert result.exit_code == 0, result.output
        assert verify_token(ServiceSettings().jwt, result.output.strip()).district == carried


def test_a_regulator_token_follows_the_configured_register(tmp_path: Path) -> None:
    city = tmp_path / "ezhou.csv"
    city.write_text("name,kind\n鄂城区,administrative_district\n", "utf-8")
    env = {"WASTEX_DISTRICTS_FILE": str(city)}
    invoke = ["token", "--role", "regulator", "--district"]
    assert runner.invoke(app, [*invoke, "鄂城区"], env=env).exit_code == 0
    assert runner.invoke(app, [*invoke, "青山区"], env=env).exit_code != 0


def test_tenant_token_without_enterprise_is_refused_with_a_clear_message() -> None:
    result = runner.invoke(app, ["token", "--role", "recycler"])
    assert result.exit_code != 0
    assert "enterprise" in result.output


def test_replay_of_an_unknown_service_is_refused() -> None:
    result = runner.invoke(app, ["replay", "billing"])
    assert result.exit_code != 0


def test_an_admin_token_names_its_holder_when_asked() -> None:
    result = runner.invoke(app, ["token", "--role", "admin", "--subject", "王科长"])
    assert result.exit_code == 0, result.output
    assert verify_token(ServiceSettings().jwt, result.output.strip()).subject == "王科长"


def letter(authenticated_source: str | None) -> DeadLetter:
    return DeadLetter(
        offset=0,
        reason="BALANCE_VIOLATION",
        error="",
        original_topic="ingest.ledger-reports.v1",
        original_partition=0,
        original_offset=7,
        key="ent-1",
        event_id="e-1",
        event_type="wastex.report.generation",
        source="ent-1",
        authenticated_source=authenticated_source,
    )


@dataclass
class Parked:
    headers: list[tuple[str, bytes]]
    topic: str = "catalog.dlq.v1"
    offset: int = 3


def test_a_redriven_message_gets_a_token_only_for_whom_it_was_authenticated_as() -> None:
    jwt = ServiceSettings().jwt
    parked = Parked([("traceparent", b"t"), ("x-error-type", b"BALANCE_VIOLATION")])
    headers = dict(redrive_headers(parked, letter("ent-1"), jwt))
    assert headers["traceparent"] == b"t"
    assert "x-error-type" not in headers
    assert headers["wastex-redrive-of"] == b"catalog.dlq.v1@3"
    authenticate = ingest_authenticator(jwt)
    envelope = Envelope.new("wastex.report.generation", "ent-1", "ent-1", {})
    authenticate(envelope, {"authorization": headers["authorization"].decode()})
    other = Envelope.new("wastex.report.generation", "ent-2", "ent-2", {})
    with pytest.raises(DomainError, match="not the token's enterprise"):
        authenticate(other, {"authorization": headers["authorization"].decode()})
    # Never authenticated (refused for its token, or before it was read): sent as it was.
    assert "authorization" not in dict(redrive_headers(parked, letter(None), jwt))
    # A fact's letter is never signed for, whatever it says of its sender.
    fact = dataclasses.replace(letter("ent-1"), original_topic="matching.match-confirmed.v1")
    assert "authorization" not in dict(redrive_headers(parked, fact, jwt))


@dataclass
class Letter:
    offset: int
    headers: list[tuple[str, bytes]]
    value: bytes = b"{}"
    key: bytes | None = None


def test_a_letter_whose_origin_headers_are_not_numbers_is_still_listed() -> None:
    found = decode(Letter(7, [("x-original-offset", b"abc"), ("x-original-partition", b"")]))
    assert (found.offset, found.original_partition, found.original_offset) == (7, 0, -1)
    first = decode(Letter(8, [("x-original-offset", b"0"), ("x-original-partition", b"2")]))
    assert (first.original_partition, first.original_offset, first.truncated) == (2, 0, False)
    head = decode(Letter(9, [("x-original-offset", b"5"), ("x-truncated-from-bytes", b"9")]))
    assert head.truncated


def test_only_letters_holding_a_whole_message_from_a_topic_are_re_driven() -> None:
    origin = [("x-original-topic", b"ingest.offers.v1"), ("x-original-offset", b"5")]
    assert decode(Letter(1, [*origin, ("x-error-type", b"SCHEMA_INVALID")])).redrivable
    assert not decode(Letter(2, [*origin, ("x-truncated-from-bytes", b"9")])).redrivable
    assert not decode(Letter(3, [*origin, ("x-error-type", b"UNREADABLE_BATCH")])).redrivable
    assert not decode(Letter(4, [("x-error-type", b"SCHEMA_INVALID")])).redrivable


#: A port nothing listens on: a broker, a database or a gateway that is not running.
NOWHERE = "127.0.0.1:1"


def refused_cleanly(result: Result, *said_: str) -> None:
    """The command ended with a line saying what is wrong and exit code 1, not a traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    for words in said_:
        assert words in result.output


@pytest.mark.parametrize("command", ["list", "redrive"])
def test_dlq_without_a_broker_says_so_without_a_traceback(command: str) -> None:
    result = runner.invoke(app, ["dlq", command, "catalog", "--bootstrap", NOWHERE])
    refused_cleanly(result, "cannot reach the Kafka broker", "--bootstrap")


@pytest.mark.parametrize("service", ["catalog", "matching", "ledger"])
def test_replay_without_a_broker_or_a_database_says_which_without_a_traceback(
    service: str, tmp_path: Path
) -> None:
    (tmp_path / f"{service}.db").touch()  # an empty SQLite database
    env = {"WASTEX_DATA_DIR": str(tmp_path), "WASTEX_KAFKA_BOOTSTRAP": NOWHERE}
    result = runner.invoke(app, ["replay", service], env=env)
    refused_cleanly(result, "cannot reach the Kafka broker", "WASTEX_KAFKA_BOOTSTRAP")
    setting = f"WASTEX_{service.upper()}_DATABASE_URL"
    url = f"sqlite+aiosqlite:///{tmp_path}/no/such/dir.db"
    result = runner.invoke(app, ["replay", service], env={**env, setting: url})
    refused_cleanly(result, f"{service} database", setting)
    # One that is no URL is a setting refused as it is read (exit 2, as a bad option).
    result = runner.invoke(app, ["replay", service], env={**env, setting: "not a url"})
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"{setting}='not a url': not a database URL" in result.output


def test_demo_seed_without_a_running_stack_says_so_without_a_traceback() -> None:
    result = runner.invoke(app, ["demo", "seed", "--url", f"http://{NOWHERE}/graphql"])
    refused_cleanly(result, f"http://{NOWHERE}/graphql")


def pem_pair(curve: bool = False) -> tuple[str, str]:
    """A private key and its public key, PEM (RSA, or an EC key RS256 cannot sign with)."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if curve
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def test_a_token_signed_with_the_rs256_key_pair_verifies_with_its_public_key() -> None:
    private, public = pem_pair()
    env = {"WASTEX_JWT_PRIVATE_KEY": private, "WASTEX_JWT_PUBLIC_KEY": public}
    result = runner.invoke(app, ["token", "--role", "admin"], env=env)
    assert result.exit_code == 0, result.output
    assert verify_token(JwtConfig(public_key=public), result.output.strip()).role is Role.ADMIN


def test_a_private_key_that_cannot_sign_for_the_public_key_is_refused_without_a_traceback() -> None:
    _, public = pem_pair()
    other, _ = pem_pair()
    ec_private, _ = pem_pair(curve=True)
    for key in ("not a key", other, ec_private, public):
        env = {"WASTEX_JWT_PRIVATE_KEY": key, "WASTEX_JWT_PUBLIC_KEY": public}
        result = runner.invoke(app, ["token", "--role", "admin"], env=env)
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert "WASTEX_JWT_PRIVATE_KEY" in result.output


@pytest.fixture
def not_graphql() -> Iterator[str]:
    """A web server that is no GraphQL endpoint (a URL without /graphql, another service):
    it answers every POST 501."""
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_demo_seed_against_what_is_no_graphql_endpoint_says_so_without_a_traceback(
    not_graphql: str,
) -> None:
    result = runner.invoke(app, ["demo", "seed", "--url", not_graphql])
    refused_cleanly(result, not_graphql, "501")


def test_a_migration_for_an_unknown_service_is_refused_naming_the_services() -> None:
    result = runner.invoke(app, ["dev", "migration", "billing", "-m", "add invoices"])
    assert result.exit_code == 2, result.output
    assert "catalog,matching,ledger" in said(result.output)


@pytest.mark.parametrize("service", ["catalog", "matching", "ledger"])
def test_replay_where_the_service_never_stored_anything_creates_no_database(
    service: str, tmp_path: Path
) -> None:
    """Run from another directory, or with WASTEX_<SERVICE>_DATABASE_URL forgotten: the
    default SQLite file is not the service's database, and a replay into a new one rebuilt
    nothing the service reads while saying it had."""
    env = {"WASTEX_DATA_DIR": str(tmp_path), "WASTEX_KAFKA_BOOTSTRAP": NOWHERE}
    result = runner.invoke(app, ["replay", service], env=env)
    refused_cleanly(result, f"no {service} database", f"WASTEX_{service.upper()}_DATABASE_URL")
    assert not (tmp_path / f"{service}.db").exists()


def test_an_empty_jwt_secret_is_refused_naming_the_setting() -> None:
    """`export WASTEX_JWT_SECRET=$(cat /run/secrets/jwt)` with the file missing."""
    result = runner.invoke(app, ["token", "--role", "admin"], env={"WASTEX_JWT_SECRET": ""})
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "WASTEX_JWT_SECRET" in result.output


@pytest.mark.parametrize("address", ["127.0.0.1:abc", "kafka-1:9092,:x"])
def test_a_bootstrap_address_with_no_port_number_is_refused_naming_the_setting(
    address: str, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["dlq", "list", "catalog", "--bootstrap", address])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "--bootstrap" in result.output
    (tmp_path / "ledger.db").touch()
    env = {"WASTEX_DATA_DIR": str(tmp_path), "WASTEX_KAFKA_BOOTSTRAP": address}
    result = runner.invoke(app, ["replay", "ledger"], env=env)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "WASTEX_KAFKA_BOOTSTRAP" in result.output


def test_a_letter_says_which_field_was_refused_when_the_rule_named_one() -> None:
    headers = [("x-error", b"0 is out of range"), ("x-error-field", b"quantityTonnes")]
    assert decode(Letter(1, headers)).field == "quantityTonnes"
    assert decode(Letter(2, headers[:1])).field is None


@contextlib.contextmanager
def service_running_on(url: str, service: str) -> Iterator[None]:
    """A process of `service` on the database at `url`, as its runtime holds it while it
    runs (`storage.presence.running_on`), in a thread with its own event loop."""
    holding, done = threading.Event(), threading.Event()

    async def hold() -> None:
        engine = make_engine(url)
        try:
            async with running_on(engine, service):
                holding.set()
                await asyncio.to_thread(done.wait)
        finally:
            await engine.dispose()

    thread = threading.Thread(target=asyncio.run, args=(hold(),))
    thread.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        done.set()
        thread.join(10)


@pytest.mark.parametrize("service", ["catalog", "matching", "ledger"])
def test_replay_is_refused_while_the_service_runs_on_its_database(
    service: str, tmp_path: Path
) -> None:
    """The docs say to stop the service first: one who forgets is told to, and nothing is
    rebuilt (a replay beside the live consumers would overwrite the facts they apply)."""
    database = tmp_path / f"{service}.db"
    database.touch()
    env = {"WASTEX_DATA_DIR": str(tmp_path), "WASTEX_KAFKA_BOOTSTRAP": NOWHERE}
    with service_running_on(f"sqlite+aiosqlite:///{database}", service):
        result = runner.invoke(app, ["replay", service], env=env)
    refused_cleanly(result, f"{service} is running on this database", "stop every process")
    # Stopped, the replay goes ahead (here to the broker it cannot reach).
    result = runner.invoke(app, ["replay", service], env=env)
    refused_cleanly(result, "cannot reach the Kafka broker")
