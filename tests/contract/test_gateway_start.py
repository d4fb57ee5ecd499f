"""The gateway's start-up refusals (the process itself, no stack)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from wastex_cli.stack import REPO
from wastex_shared.devtools.tansu import free_port


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WASTEX_")}
    return subprocess.run(
        ["node", str(REPO / "gateway" / "gateway.mjs")],
        env={**clean, "WASTEX_GATEWAY_PORT": str(free_port()), "NO_COLOR": "1", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_the_gateway_will_not_listen_beyond_loopback_without_a_token_key(host: str) -> None:
    """It passes tokens to the subgraphs: with the services on the public development
    secret, anyone could sign an admin token and reach them through it."""
    refused = _start(WASTEX_GATEWAY_HOST=host)
    assert refused.returncode == 2
    assert "WASTEX_JWT_SECRET" in refused.stderr


@pytest.mark.parametrize("host", ["127.attacker.example", "127.0.0.1.attacker.example"])
def test_a_host_name_starting_127_is_not_taken_for_loopback(host: str) -> None:
    """127.0.0.0/8 is loopback, but only as an address: a name may resolve to any interface."""
    refused = _start(WASTEX_GATEWAY_HOST=host)
    assert refused.returncode == 2
    assert "WASTEX_JWT_SECRET" in refused.stderr


def test_any_address_in_127_0_0_0_8_is_loopback() -> None:
    """The whole block is the loopback network (RFC 1122 §3.2.1.3), as the services hold too."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WASTEX_")}
    port = free_port()
    gateway = subprocess.Popen(
        ["node", str(REPO / "gateway" / "gateway.mjs")],
        env={**clean, "WASTEX_GATEWAY_HOST": "127.0.0.2", "WASTEX_GATEWAY_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert gateway.stdout is not None
        line = gateway.stdout.readline()
        assert line.strip() == f"wastex gateway listening on http://127.0.0.2:{port}/graphql"
    finally:
        gateway.terminate()
        gateway.wait(timeout=10)


@pytest.mark.parametrize("origins", ["*", "https://app.example.org/graphql", "app.example.org"])
def test_the_gateway_will_not_start_on_a_cors_list_that_is_not_origins(origins: str) -> None:
    """`*` included: any site open in a developer's browser could then read what a token it
    signed with the public development secret is shown."""
    listed = f"https://ok.example.org, {origins}"
    refused = _start(WASTEX_GATEWAY_CORS_ORIGINS=listed)
    assert refused.returncode == 2
    # Said as the gateway's other refusals are.
    assert refused.stderr.startswith(
        f"wastex gateway: refusing to start: WASTEX_GATEWAY_CORS_ORIGINS={json.dumps(listed)}: "
    ), refused.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WASTEX_GATEWAY_PORT", "12abc"),  # it listened on port 12
        ("WASTEX_GATEWAY_PORT", "99999"),  # Node's RangeError, a stack trace
        ("WASTEX_GATEWAY_PORT", "0"),  # a port of the system's choosing, nobody knows which
        ("WASTEX_GATEWAY_MAX_DEPTH", "0"),  # every operation refused
        ("WASTEX_GATEWAY_MAX_BODY_BYTES", "0"),  # every request refused
        ("WASTEX_GATEWAY_POLL_MS", "1.5"),  # read as 1
        ("WASTEX_CATALOG_URL", "127.0.0.1:4001"),  # every request to it failed
        ("WASTEX_LEDGER_URL", "not a url"),
        ("WASTEX_GATEWAY_LOG_LEVEL", "loud"),
        ("LOG_LEVEL", "WARNING"),  # the runtime's logger threw a stack trace
    ],
)
def test_a_setting_the_gateway_cannot_use_stops_the_start_naming_it(
    variable: str, value: str
) -> None:
    """It started and listened on what it made of it, or failed on the first request."""
    refused = _start(**{variable: value})
    assert refused.returncode == 2, refused.stdout
    assert refused.stderr.startswith(
        f'wastex gateway: refusing to start: {variable}="{value}": '
    ), refused.stderr
    assert len(refused.stderr.splitlines()) == 1
