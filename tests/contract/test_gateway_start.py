"""The gateway's start-up refusals (the process itself, no stack)."""

from __future__ import annotations

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
