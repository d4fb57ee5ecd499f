"""The `wastex` command: tokens, the demo city, replay, dead letters and developer tools."""

from __future__ import annotations

from typing import Annotated

import typer

from wastex_cli import dev, dlq
from wastex_cli.running import fail, run, service_settings
from wastex_shared.auth import ALL_DISTRICTS, JwtConfig, Role, issue_token
from wastex_shared.codes.district_file import DistrictFileError, load_districts
from wastex_shared.errors import DomainError
from wastex_shared.settings import SettingsError

app = typer.Typer(help="wastex: industrial solid-waste exchange.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo city.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
app.add_typer(dlq.app, name="dlq")
app.add_typer(dev.app, name="dev")

SERVICES = ("catalog", "matching", "ledger")


def _jwt() -> JwtConfig:
    return service_settings().jwt


def _registered(district: str) -> str:
    """`district` as the register lists it, or '*': a regulator's token for a name no
    enterprise can be registered in would show its holder nothing."""
    if district.strip() == ALL_DISTRICTS:
        return ALL_DISTRICTS
    try:
        register = load_districts(service_settings().districts_file)
    except DistrictFileError as err:
        raise typer.BadParameter(str(err), param_hint="WASTEX_DISTRICTS_FILE") from err
    try:
        return register.validate(district)
    except DomainError as err:
        # Without a near name to suggest, the whole register (a city has a few dozen).
        known = "" if register.suggestions(district) else f": {', '.join(register.names)}"
        raise typer.BadParameter(f"{err.message}{known}", param_hint="'--district'") from err


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="enterprise | recycler | regulator | admin")],
    enterprise: Annotated[str | None, typer.Option(help="enterprise id (tenant roles)")] = None,
    district: Annotated[
        str | None, typer.Option(help="a district of the register, or '*' (regulators)")
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="who holds it (named in audit trails, e.g. an admin)")
    ] = None,
) -> None:
    """Print a signed JWT for ROLE (dev secret unless WASTEX_JWT_SECRET is set)."""
    if district is not None:
        district = _registered(district)
    try:
        typer.echo(issue_token(_jwt(), role, enterprise, district, subject=subject))
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


@demo_app.command("seed")
def demo_seed(
    url: Annotated[str, typer.Option(help="GraphQL endpoint")] = "http://127.0.0.1:4000/graphql",
) -> None:
    """Load the demo city into a running stack (idempotent)."""
    from wastex_cli.demo import SeedError, seed

    try:
        summary = run(seed(url, _jwt()), endpoint=url)
    except SeedError as err:
        fail(str(err))
    except ValueError as err:  # no key to sign the seed's tokens with
        raise typer.BadParameter(str(err)) from err
    typer.echo(summary.describe())


@app.command()
def replay(service: Annotated[str, typer.Argument(help="catalog | matching | ledger")]) -> None:
    """Rebuild SERVICE's read models from its topics (stop the service first: it refuses
    while the service runs)."""
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    from wastex_cli.replay import replay_service

    service_settings()  # the common ones; the service's own are read by replay_service
    setting = f"WASTEX_{service.upper()}_DATABASE_URL"
    try:
        report = run(replay_service(service), database=(service, setting))
    except DomainError as err:  # refused, and nothing replaced
        fail(err.message)
    except SettingsError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(report)


if __name__ == "__main__":
    app()
