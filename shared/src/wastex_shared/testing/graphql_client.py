"""A small GraphQL-over-HTTP client and a polling helper for tests that cross services."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


class GraphQLClient:
    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.token = token

    def as_(self, token: str | None) -> GraphQLClient:
        return GraphQLClient(self.url, token)

    async def execute(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                self.url, json={"query": query, "variables": variables}, headers=headers
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.execute(query, **variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout: float = 20.0, interval: float = 0.1
) -> T:
    """Poll `probe` until it returns something truthy (events cross services asynchronously)."""
    async with asyncio.timeout(timeout):
        while True:
            result = await probe()
            if result:
                return result
            await asyncio.sleep(interval)
