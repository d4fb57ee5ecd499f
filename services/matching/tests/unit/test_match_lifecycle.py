"""The Match state machine: who may accept, reject, expire or supersede, and when."""

from __future__ import annotations

import pytest

from wastex_matching.domain import (
    MatchStatus,
    Party,
    accept,
    cancel,
    expire,
    is_fixed,
    is_provisional,
    is_terminal,
    reject,
    supersede,
)
from wastex_shared.errors import DomainError

S = MatchStatus


def invalid(action: object) -> DomainError:
    assert callable(action)
    with pytest.raises(DomainError) as err:
        action()
    assert err.value.code == "INVALID_TRANSITION"
    return err.value


@pytest.mark.parametrize(
    ("party", "status"),
    [("SUPPLIER", S.ACCEPTED_BY_SUPPLIER), ("RECYCLER", S.ACCEPTED_BY_RECYCLER)],
)
def test_first_acceptance_records_who_accepted(party: str, status: MatchStatus) -> None:
    assert accept(S.PROPOSED, party) is status


@pytest.mark.parametrize("first", [Party.SUPPLIER, Party.RECYCLER])
def test_match_is_confirmed_once_both_parties_accepted_in_either_order(first: Party) -> None:
    assert accept(accept(S.PROPOSED, first), first.other) is S.CONFIRMED


def test_accepting_twice_by_the_same_party_is_refused() -> None:
    error = invalid(lambda: accept(S.ACCEPTED_BY_SUPPLIER, Party.SUPPLIER))
    assert "already accepted" in error.message


@pytest.mark.parametrize("status", [S.CONFIRMED, S.REJECTED, S.EXPIRED, S.SUPERSEDED])
def test_nothing_can_be_accepted_after_it_is_settled(status: MatchStatus) -> None:
    invalid(lambda: accept(status, Party.RECYCLER))


@pytest.mark.parametrize("status", [S.PROPOSED, S.ACCEPTED_BY_SUPPLIER, S.ACCEPTED_BY_RECYCLER])
@pytest.mark.parametrize("party", list(Party))
def test_either_party_may_reject_before_confirmation(status: MatchStatus, party: Party) -> None:
    assert reject(status, party, "moisture too high") is S.REJECTED


@pytest.mark.parametrize("status", [S.CONFIRMED, S.REJECTED, S.EXPIRED, S.SUPERSEDED])
def test_a_settled_match_cannot_be_rejected(status: MatchStatus) -> None:
    invalid(lambda: reject(status, Party.SUPPLIER, "changed our mind"))


@pytest.mark.parametrize("status", [S.CONFIRMED, S.REJECTED, S.EXPIRED, S.SUPERSEDED])
@pytest.mark.parametrize("reason", ["", "x" * 501])
def test_a_settled_match_is_refused_as_such_whatever_the_reason(
    status: MatchStatus, reason: str
) -> None:
    """Not REQUIRED_FIELD or TEXT_TOO_LONG first: a party who then gives a reason is only
    told that the match could never be rejected."""
    invalid(lambda: reject(status, Party.SUPPLIER, reason))


def test_rejecting_a_confirmed_match_points_to_calling_its_shipment_off() -> None:
    error = invalid(lambda: reject(S.CONFIRMED, Party.RECYCLER, "kiln down"))
    assert "cancelShipment" in error.message


@pytest.mark.parametrize("reason", ["", "   "])
def test_rejection_needs_a_reason(reason: str) -> None:
    with pytest.raises(DomainError) as err:
        reject(S.PROPOSED, Party.RECYCLER, reason)
    assert (err.value.code, err.value.field) == ("REQUIRED_FIELD", "reason")


def test_rejection_reason_has_a_length_limit() -> None:
    with pytest.raises(DomainError) as err:
        reject(S.PROPOSED, Party.RECYCLER, "x" * 501)
    assert err.value.code == "TEXT_TOO_LONG"


def test_an_unknown_party_is_refused() -> None:
    with pytest.raises(DomainError) as err:
        accept(S.PROPOSED, "REGULATOR")
    assert err.value.code == "INVALID_PARTY"


def test_party_names_are_read_case_insensitively() -> None:
    assert accept(S.PROPOSED, " recycler ") is S.ACCEPTED_BY_RECYCLER


@pytest.mark.parametrize("status", [S.PROPOSED, S.ACCEPTED_BY_SUPPLIER, S.ACCEPTED_BY_RECYCLER])
def test_an_unconfirmed_match_expires_when_its_window_passes(status: MatchStatus) -> None:
    assert expire(status) is S.EXPIRED


@pytest.mark.parametrize("status", [S.CONFIRMED, S.REJECTED, S.EXPIRED, S.SUPERSEDED])
def test_settled_matches_do_not_expire(status: MatchStatus) -> None:
    invalid(lambda: expire(status))


def test_only_a_proposal_can_be_superseded_by_re_optimisation() -> None:
    assert supersede(S.PROPOSED) is S.SUPERSEDED
    for status in set(S) - {S.PROPOSED}:
        invalid(lambda status=status: supersede(status))


def test_only_proposed_is_provisional() -> None:
    assert {s for s in S if is_provisional(s)} == {S.PROPOSED}


def test_accepted_by_anyone_or_confirmed_is_fixed() -> None:
    assert {s for s in S if is_fixed(s)} == {
        S.ACCEPTED_BY_SUPPLIER,
        S.ACCEPTED_BY_RECYCLER,
        S.CONFIRMED,
    }


def test_rejected_expired_superseded_and_cancelled_are_terminal() -> None:
    assert {s for s in S if is_terminal(s)} == {S.REJECTED, S.EXPIRED, S.SUPERSEDED, S.CANCELLED}
    assert not any(is_fixed(s) and is_terminal(s) for s in S)


def test_only_a_confirmed_match_is_cancelled_when_its_shipment_is_called_off() -> None:
    assert cancel(S.CONFIRMED) is S.CANCELLED
    for status in set(S) - {S.CONFIRMED}:
        invalid(lambda status=status: cancel(status))
