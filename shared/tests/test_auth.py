"""Tokens: a verified token is remembered, but never past its expiry."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import jwt
import pytest

from wastex_shared.auth import (
    ISSUER,
    JwtConfig,
    Role,
    Unauthenticated,
    ingest_authenticator,
    issue_token,
    verify_token,
)
from wastex_shared.envelope import Envelope
from wastex_shared.errors import DomainError

CONFIG = JwtConfig()


def test_a_token_verified_once_is_refused_once_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = issue_token(CONFIG, Role.ENTERPRISE, "ent-1", ttl=timedelta(minutes=5))
    assert verify_token(CONFIG, token).enterprise_id == "ent-1"
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(CONFIG, token)


def test_a_token_signed_with_another_secret_is_refused_even_if_seen_before() -> None:
    token = issue_token(CONFIG, Role.ADMIN)
    assert verify_token(CONFIG, token).role is Role.ADMIN
    with pytest.raises(Unauthenticated, match="invalid token"):
        verify_token(JwtConfig(secret="another-secret-of-at-least-32-bytes-long!!"), token)


def test_an_expired_token_is_refused_on_first_sight() -> None:
    token = issue_token(CONFIG, Role.ADMIN, ttl=timedelta(seconds=-1))
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(CONFIG, token)


def test_a_token_is_judged_at_the_time_asked_for() -> None:
    """A message the broker took while its token held is judged at that time (ingest)."""
    token = issue_token(CONFIG, Role.ENTERPRISE, "ent-1", ttl=timedelta(seconds=-60))
    expired_at = time.time() - 60
    assert verify_token(CONFIG, token, at=expired_at - 1).enterprise_id == "ent-1"
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(CONFIG, token, at=expired_at + 1)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(CONFIG, token)


@pytest.mark.parametrize("expiry", ["inf", "nan", "soon"])
def test_a_token_whose_expiry_is_not_a_time_is_refused(expiry: str) -> None:
    """Without PyJWT's own check (tokens are judged at a time of the caller's), a signed
    `exp` of "inf" would never expire."""
    claims = {"iss": ISSUER, "sub": "x", "role": "admin", "exp": expiry}
    token = jwt.encode(claims, CONFIG.secret, algorithm=CONFIG.algorithm)
    with pytest.raises(Unauthenticated, match="invalid token"):
        verify_token(CONFIG, token)


@pytest.mark.parametrize(
    "claims",
    [
        {"role": "enterprise", "enterprise_id": ["ent-1"]},
        {"role": "recycler", "enterprise_id": 42},
        {"role": "enterprise", "enterprise_id": {"id": "ent-1"}},
        {"role": "regulator", "district": ["*"]},
        {"role": "admin", "district": 7},
        {"role": "admin", "exp": "4102444800"},
        {"role": "admin", "exp": True},
        {"role": "admin", "exp": 10**400},
    ],
)
def test_a_token_whose_claims_are_not_of_their_type_is_refused(claims: dict[str, Any]) -> None:
    """An id or district that is not text (an identity provider's numeric ids) reached the
    SQL of every resolver as it was and failed there as an internal error; an `exp` that is
    not a number of seconds is not a time."""
    token = jwt.encode(
        {"iss": ISSUER, "sub": "x", "exp": time.time() + 600, **claims},
        CONFIG.secret,
        algorithm=CONFIG.algorithm,
    )
    with pytest.raises(Unauthenticated, match="invalid token"):
        verify_token(CONFIG, token)


def _signed(**claims: Any) -> str:
    return jwt.encode(
        {"iss": ISSUER, "sub": "x", "exp": time.time() + 600, **claims},
        CONFIG.secret,
        algorithm=CONFIG.algorithm,
    )


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("abc.def.ghi", "invalid token: not a JWT (header.payload.signature, each base64url)"),
        ("abc", "invalid token: not a JWT (header.payload.signature, each base64url)"),
        (_signed(), "invalid token: it has no role claim"),
        (
            _signed(role="boss"),
            "invalid token: role 'boss' is not one of enterprise, recycler, regulator, admin",
        ),
        (
            _signed(role=["admin"]),
            "invalid token: role ['admin'] is not one of enterprise, recycler, regulator, admin",
        ),
    ],
)
def test_a_malformed_token_is_refused_in_words_its_holder_can_act_on(
    token: str, message: str
) -> None:
    """A garbled token was refused with Python's codec error ("Invalid header string: 'utf-8'
    codec can't decode byte 0xb7 in position 1: invalid start byte"), one without a role
    with the bare key ("invalid token: 'role'"), and an unknown role named the enum class
    ("'boss' is not a valid Role"): internal messages (api.md), none saying what is wrong."""
    with pytest.raises(Unauthenticated) as caught:
        verify_token(CONFIG, token)
    assert str(caught.value) == message


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_a_token_signed_by_a_clock_a_little_ahead_is_taken(claim: str) -> None:
    """PyJWT refuses an `iat` (or `nbf`) after now: a token signed where the clock runs a
    few seconds ahead was refused as not yet valid until this machine's clock caught up."""
    now = time.time()

    def signed(at: float) -> str:
        claims = {"iss": ISSUER, "sub": "x", "role": "admin", "exp": now + 600, claim: at}
        return jwt.encode(claims, CONFIG.secret, algorithm=CONFIG.algorithm)

    assert verify_token(CONFIG, signed(now + 5)).role is Role.ADMIN
    with pytest.raises(Unauthenticated, match="not yet valid"):
        verify_token(CONFIG, signed(now + 3600))


@pytest.mark.parametrize(
    ("role", "said"), [(Role.ADMIN, "an admin token"), (Role.REGULATOR, "a regulator token")]
)
def test_a_token_that_may_not_submit_is_named_with_its_article(role: Role, said: str) -> None:
    """Messages read "an admin token cannot submit", not "a admin token"."""
    envelope = Envelope.new("catalog.offer-posted", "ent-1", "ent-1", {})
    token = issue_token(CONFIG, role, district="*" if role is Role.REGULATOR else None)
    headers = {"authorization": f"Bearer {token}"}
    with pytest.raises(DomainError) as refused:
        ingest_authenticator(CONFIG)(envelope, headers)
    assert refused.value.code == "NOT_AUTHORIZED"
    assert refused.value.message == f"{said} cannot submit"
