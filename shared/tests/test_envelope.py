"""An event's reference: what inbox marks and ledger causes store of it."""

from __future__ import annotations

from wastex_shared.envelope import REFERENCE_LENGTH, Envelope


def event(source: str, ident: str) -> Envelope:
    return Envelope.new("wastex.offer.submit", source, "s", {}, id=ident)


def test_a_reference_is_source_and_id() -> None:
    assert event("ent-1", "msg-7").reference == "ent-1/msg-7"


def test_a_reference_too_long_to_store_is_a_stable_digest() -> None:
    long = event("ent-1", "m" * 200)
    assert len(long.reference) <= REFERENCE_LENGTH
    assert long.reference == event("ent-1", "m" * 200).reference
    assert long.reference != event("ent-2", "m" * 200).reference
