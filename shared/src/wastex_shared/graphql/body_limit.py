"""A request body larger than any GraphQL request of ours is refused before it is read whole.

strawberry reads a request's body whole and parses it as JSON before any of the operation's
limits (tokens, depth, aliases, cost) can look at it; Starlette sets no limit. Variables are
not the document, so those limits do not see them at all: a client posting hundreds of
megabytes would have the service hold all of them (and their parsed form), one request after
another. The largest real request is a mutation with a few lists of codes: a few kilobytes."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Bytes a request body may have: far above any operation the API takes, and twice the
#: gateway's (1 MiB), whose requests to a subgraph add the planned document to the variables.
MAX_BODY_BYTES = 2 * 1024 * 1024
#: A refused body is read (and dropped) before the answer, up to this many times the limit: a
#: server closing on an unread body resets the connection under a client still sending, which
#: then never reads why. Beyond it the connection is cut.
DRAINED_LIMITS = 8
REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a body declared (`content-length`) or found, as it arrives, to be
    over `limit` bytes is answered 413 with a GraphQL error (`REQUEST_TOO_LARGE`)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit
        self.drained = DRAINED_LIMITS * limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            # A client that asked first (`expect: 100-continue`) is told at once and sends
            # nothing: uvicorn says "continue" only when the body is first read.
            asked = b"100-continue" in headers.get(b"expect", b"").lower()
            if int(declared) <= self.drained and not asked:
                await _drain(receive, 0, self.drained)
            await self._refuse(send)
            return
        received = 0
        started = ended = False

        async def counted() -> Message:
            nonlocal received, ended
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                ended = not message.get("more_body", False)
                if received > self.limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                if not ended:
                    await _drain(receive, received, self.drained)
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        message = f"the request body is over {self.limit} bytes"
        body = json.dumps(
            {"errors": [{"message": message, "extensions": {"code": REQUEST_TOO_LARGE}}]}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body is not read: the connection cannot carry another.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


async def _drain(receive: Receive, seen: int, most: int) -> None:
    """Read and drop the rest of a body, up to `most` bytes in all."""
    while seen <= most:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        seen += len(message.get("body", b""))
