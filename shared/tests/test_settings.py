"""Settings an operator gets wrong are refused when read, naming the variable and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from wastex_shared.settings import ServiceSettings, SettingsError, load_settings


def refusal(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> str:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        load_settings(ServiceSettings)
    return str(refused.value)


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        ("WASTEX_SERVICE_PORT", "abc", "valid integer"),
        ("WASTEX_SERVICE_PORT", "-5", "from 1 to 65535"),
        ("WASTEX_SERVICE_PORT", "70000", "from 1 to 65535"),
        ("WASTEX_KAFKA_BOOTSTRAP", "kafka-1:", "is not host:port"),
        ("WASTEX_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:x", "'kafka-2:x' is not host:port"),
        ("WASTEX_KAFKA_REPLICATION", "0", "greater than or equal to 1"),
        ("WASTEX_SERVICE_DATABASE_URL", "not a url", "not a database URL"),
        ("WASTEX_SERVICE_DATABASE_URL", "postgresql://root@db/wastex", "'postgresql' is not"),
        ("WASTEX_SERVICE_CONSUMER_BATCH_SIZE", "-1", "greater than or equal to 1"),
        ("WASTEX_SERVICE_FETCH_MAX_WAIT_MS", "soon", "valid integer"),
        ("WASTEX_SERVICE_HTTP_KEEP_ALIVE_SECONDS", "0", "greater than or equal to 1"),
        ("WASTEX_DISTRICTS_FILE", "/no/such/register.csv", "No such file"),
    ],
)
def test_a_value_that_cannot_be_used_is_refused_in_one_line_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, why: str
) -> None:
    """They started: a port of -5 or a district file not there failed later on a traceback,
    a database URL of the wrong driver on the first request."""
    said = refusal(monkeypatch, variable, value)
    assert said.startswith(f"{variable}={value!r}: "), said
    assert why in said
    assert "\n" not in said
    assert "pydantic" not in said  # no "For further information visit …"


def test_a_public_key_that_is_not_pem_is_refused_without_repeating_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It started, and refused every token on the first request as an internal error."""
    said = refusal(monkeypatch, "WASTEX_JWT_PUBLIC_KEY", "ssh-rsa AAAAB3Nza-my-key")
    assert said.startswith("WASTEX_JWT_PUBLIC_KEY: not a PEM public key"), said
    assert "AAAAB3Nza" not in said


def test_a_district_file_that_is_no_register_is_refused_naming_its_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    register = tmp_path / "districts.csv"
    register.write_text("name,kind\n江岸区,administrative_district\n江汉区,district\n", "utf-8")
    said = refusal(monkeypatch, "WASTEX_DISTRICTS_FILE", str(register))
    assert said.startswith("WASTEX_DISTRICTS_FILE="), said
    assert "line 3" in said


def test_every_bad_setting_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASTEX_SERVICE_PORT", "x")
    said = refusal(monkeypatch, "WASTEX_KAFKA_BOOTSTRAP", ":9092")
    assert [line.split("=")[0] for line in said.splitlines()] == [
        "WASTEX_SERVICE_PORT",
        "WASTEX_KAFKA_BOOTSTRAP",
    ]


def test_a_bootstrap_without_a_port_is_kafkas_9092_as_the_cli_takes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WASTEX_KAFKA_BOOTSTRAP", "kafka-1,kafka-2:9093")
    assert load_settings(ServiceSettings).kafka_bootstrap == "kafka-1,kafka-2:9093"
