"""Relay-style connections with opaque cursors; `first` is capped at 100."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Generic, TypeVar

import strawberry

from wastex_shared.errors import DomainError

MAX_PAGE = 100
DEFAULT_PAGE = 20

T = TypeVar("T")


@strawberry.federation.type(shareable=True)
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise DomainError("INVALID_PAGE_SIZE", f"first must be between 0 and {MAX_PAGE}", "first")
    return first


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise DomainError("INVALID_CURSOR", "cursor is not one this API gave out", "after") from exc


def connection(nodes: Sequence[T], cursors: Sequence[str], first: int, total: int) -> Connection[T]:
    """`nodes` holds up to first + 1 items (the extra one tells whether a next page exists)."""
    page = list(nodes[:first])
    edges = [Edge(node=n, cursor=encode_cursor(c)) for n, c in zip(page, cursors, strict=False)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(nodes) > first, end_cursor=edges[-1].cursor if edges else None
        ),
        total_count=total,
    )
