"""The `wastex` command: tokens verify with the same secret the services use."""

from __future__ import annotations

from typer.testing import CliRunner

from wastex_cli.main import app
from wastex_shared.auth import Role, verify_token
from wastex_shared.settings import ServiceSettings

runner = CliRunner()


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


def test_tenant_token_without_enterprise_is_refused_with_a_clear_message() -> None:
    result = runner.invoke(app, ["token", "--role", "recycler"])
    assert result.exit_code != 0
    assert "enterprise" in result.output


def test_replay_of_an_unknown_service_is_refused() -> None:
    result = runner.invoke(app, ["replay", "billing"])
    assert result.exit_code != 0
