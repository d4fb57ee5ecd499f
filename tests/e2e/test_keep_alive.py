"""Idle HTTP connections stay open longer than a client or a proxy keeps them idle.

The gateway reuses its connections to the subgraphs, and a proxy in front of the gateway
its connections to it. A server that closes an idle one first (uvicorn's default: after
5 s; Node's: 5 s) races the next request sent on it, which fails: the gateway said "socket
hang up" and a mutation was answered INTERNAL_SERVER_ERROR. Raw sockets here, since an HTTP
client library would quietly reconnect."""

from __future__ import annotations

import asyncio

from wastex_cli.stack import SERVICES, Stack

IDLE_SECONDS = 6.0  # past uvicorn's and Node's defaults


async def get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> bytes:
    """One request on the connection; its status line (the body read and dropped)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    fields = dict(line.lower().split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
    if fields.get(b"transfer-encoding", b"").strip() == b"chunked":
        await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 10)
    else:
        await reader.readexactly(int(fields[b"content-length"]))
    return head.split(b"\r\n", 1)[0]


async def served_after_idling(port: int, path: str) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        first = await get(reader, writer, path)
        await asyncio.sleep(IDLE_SECONDS)
        try:
            second = await get(reader, writer, path)
        except (asyncio.IncompleteReadError, ConnectionError):
            second = b"closed by the server"
        return [first, second]
    finally:
        writer.close()


async def test_an_idle_connection_is_still_served(stack: Stack) -> None:
    servers = {service: (stack.ports.of(service), "/healthz") for service in SERVICES}
    servers["gateway"] = (stack.ports.gateway, "/healthcheck")
    answers = await asyncio.gather(*(served_after_idling(*at) for at in servers.values()))
    assert dict(zip(servers, answers, strict=True)) == {
        name: [b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK"] for name in servers
    }
