"""Who is calling: JWT bearer tokens with `role`, `enterprise_id` and `district` claims.

HS256 with a shared secret by default (a dev secret unless WASTEX_JWT_SECRET is set);
RS256 when a public key is configured. The same `Principal` guards GraphQL and Kafka ingest.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from wastex_shared.envelope import Envelope, utcnow
from wastex_shared.errors import DomainError

DEV_SECRET = "wastex-dev-secret-change-me-in-production-0123456789"
#: The shortest HS256 secret a service reachable from other machines takes (RFC 7518 §3.2).
MIN_SECRET_BYTES = 32
ISSUER = "wastex"
ALL_DISTRICTS = "*"
#: How far a token's `iat` (or `nbf`) may lie ahead of this machine's clock: the machine
#: that signed it (an operator's `wastex token`, an identity provider) keeps its own time.
CLOCK_SKEW = timedelta(minutes=1)


class Role(enum.StrEnum):
    ENTERPRISE = "enterprise"
    RECYCLER = "recycler"
    REGULATOR = "regulator"
    ADMIN = "admin"

    @property
    def spoken(self) -> str:
        """The role with its article, for messages: "an admin", "a regulator"."""
        return f"{'an' if self.value[0] in 'aeiou' else 'a'} {self.value}"


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    subject: str
    enterprise_id: str | None = None
    district: str | None = None
    #: When the token expires (Unix time): a subscription outlives its check at the start.
    expires_at: float = math.inf

    @property
    def expired(self) -> bool:
        return self.expired_at(time.time())

    def expired_at(self, moment: float) -> bool:
        """Whether the token no longer held at `moment` (seconds since the epoch)."""
        return self.expires_at <= moment

    @property
    def is_tenant(self) -> bool:
        return self.role in (Role.ENTERPRISE, Role.RECYCLER)

    def acts_for(self, enterprise_id: str) -> bool:
        return self.is_tenant and self.enterprise_id == enterprise_id

    def oversees(self, district: str) -> bool:
        return self.role is Role.REGULATOR and self.district in (ALL_DISTRICTS, district)


@dataclass(frozen=True, slots=True)
class JwtConfig:
    secret: str = DEV_SECRET
    public_key: str | None = None
    private_key: str | None = None

    @property
    def algorithm(self) -> str:
        return "RS256" if self.public_key else "HS256"

    @property
    def published(self) -> bool:
        """Whether tokens are checked against the dev secret, which is in this repository:
        anyone can sign an admin token with it."""
        return not self.public_key and self.secret == DEV_SECRET

    @property
    def guessable(self) -> bool:
        """Whether the HS256 secret is the published one or shorter than the hash's 256 bits
        (RFC 7518 §3.2): from any one token a short one is found offline, and with it any
        token signed."""
        if self.public_key:
            return False
        return self.published or len(self.secret.encode()) < MIN_SECRET_BYTES


class Unauthenticated(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__("UNAUTHENTICATED", message)


def issue_token(
    config: JwtConfig,
    role: Role,
    enterprise_id: str | None = None,
    district: str | None = None,
    ttl: timedelta = timedelta(days=30),
    subject: str | None = None,
) -> str:
    """A signed token; `subject` names who holds it (a person, for an admin whose changes
    are kept in an audit trail), by default the enterprise or role and district."""
    if role in (Role.ENTERPRISE, Role.RECYCLER) and not enterprise_id:
        raise ValueError(f"{role.spoken} token needs an enterprise id")
    if role is Role.REGULATOR and not district:
        raise ValueError("a regulator token needs a district (or '*')")
    if config.private_key and not config.public_key:
        raise ValueError("WASTEX_JWT_PRIVATE_KEY signs RS256: set WASTEX_JWT_PUBLIC_KEY too")
    now = utcnow()
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": subject or enterprise_id or f"{role}:{district or 'all'}",
        "role": str(role),
        "iat": now,
        "exp": now + ttl,
    }
    if enterprise_id:
        claims["enterprise_id"] = enterprise_id
    if district:
        claims["district"] = district
    key = config.private_key if config.public_key else config.secret
    if key is None:
        raise ValueError("RS256 signing needs a private key")
    if not config.public_key:
        if not key:  # set, but to nothing (a secret file that was not there)
            raise ValueError("WASTEX_JWT_SECRET is empty: set it to the services' secret")
        return jwt.encode(claims, key, algorithm=config.algorithm)
    # RS256: a key that is not RSA's, or not the pair of the public key the services verify
    # with, would sign tokens every service refuses; say so where the token is made.
    try:
        signed = jwt.encode(claims, key, algorithm=config.algorithm)
        jwt.decode(signed, config.public_key, algorithms=[config.algorithm], issuer=ISSUER)
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as exc:  # a public key
        raise ValueError(
            f"WASTEX_JWT_PRIVATE_KEY cannot sign for WASTEX_JWT_PUBLIC_KEY: {exc}"
        ) from exc
    return signed


def verify_token(config: JwtConfig, token: str, at: float | None = None) -> Principal:
    """The token's principal if it is valid at `at` (seconds since the epoch; None: now)."""
    principal = _verified(config, token)
    if principal.expired_at(time.time() if at is None else at):
        raise Unauthenticated("token expired")
    return principal


@functools.lru_cache(maxsize=4096)
def _verified(config: JwtConfig, token: str) -> Principal:
    """The principal a token names, with when it expires; raises if it is not a valid token.

    Cached: a factory's system sends thousands of messages under one token, and checking
    its signature each time was a tenth of the ingest cost. Expiry is checked by the
    caller on every use, against the time it judges the token at (a message's may be when
    the broker took it); everything else about a token never changes."""
    key = config.public_key or config.secret
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[config.algorithm],
            issuer=ISSUER,
            # PyJWT refuses an iat ahead of now: without leeway, a token signed on a
            # machine whose clock runs a second ahead was "not yet valid" here until this
            # clock caught up (a factory's message parked UNAUTHENTICATED meanwhile).
            leeway=CLOCK_SKEW,
            options={"require": ["exp"], "verify_exp": False},
        )
        role = _role(claims)
        expires_at = _seconds(claims["exp"])
        _text_or_none(claims, "enterprise_id", "district")
    except jwt.InvalidSignatureError as exc:  # a DecodeError too, with a message to keep
        raise Unauthenticated(f"invalid token: {exc}") from exc
    except jwt.DecodeError as exc:  # PyJWT's text may be Python's (a codec's error)
        raise Unauthenticated(
            "invalid token: not a JWT (header.payload.signature, each base64url)"
        ) from exc
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError) as exc:
        raise Unauthenticated(f"invalid token: {exc}") from exc
    enterprise_id = claims.get("enterprise_id")
    if role in (Role.ENTERPRISE, Role.RECYCLER) and not enterprise_id:
        raise Unauthenticated("tenant token without enterprise_id")
    if role is Role.REGULATOR and not claims.get("district"):
        raise Unauthenticated("regulator token without district")
    subject, district = str(claims.get("sub", "")), claims.get("district")
    return Principal(role, subject, enterprise_id, district, expires_at)


def _role(claims: Mapping[str, Any]) -> Role:
    """The token's role, or ValueError naming the roles there are (`Role(…)`'s own error
    names the enum class, and a missing claim was a bare KeyError, "'role'")."""
    if "role" not in claims:
        raise ValueError("it has no role claim")
    role = claims["role"]
    if not isinstance(role, str) or role not in {r.value for r in Role}:
        raise ValueError(f"role {role!r} is not one of {', '.join(r.value for r in Role)}")
    return Role(role)


def _seconds(exp: object) -> float:
    """A token's `exp`: a finite number of seconds (PyJWT's own check, which wants one, is
    off: tokens are judged at a time of the caller's)."""
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        with contextlib.suppress(OverflowError):  # 10**400: JSON bounds no integer
            seconds = float(exp)
            if math.isfinite(seconds):  # "inf" or "nan" would never expire
                return seconds
    raise ValueError(f"exp {exp!r} is not a time")


def _text_or_none(claims: Mapping[str, Any], *names: str) -> None:
    """The claims the policies compare and query by must be text: a number or a list (a
    signer's or identity provider's own idea of an id) reached the SQL and failed every
    query as an internal error, or matched nothing."""
    for name in names:
        value = claims.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} {value!r} is not a text")


def bearer(header_value: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None without one (a blank
    header is none). Any other header is refused, not read as anonymous: a client sending
    `Basic …` or `Bearer` alone meant to sign in and must hear that it did not."""
    if header_value is None or not header_value.strip():
        return None
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the authorization header must be 'Bearer <token>'")
    return token.strip()


def principal_from_header(
    config: JwtConfig, header_value: str | None, at: float | None = None
) -> Principal | None:
    """The caller, or None with no token; a bad token (or one expired at `at`, None: now)
    raises Unauthenticated."""
    token = bearer(header_value)
    return verify_token(config, token, at) if token else None


def authorization_of(headers: Mapping[str, str]) -> str | None:
    """A Kafka message's `authorization` header, its name in any case: Kafka's header names
    are case-sensitive, HTTP's are not, and a factory's system writing `Authorization` as
    it does for GraphQL had every message parked UNAUTHENTICATED (its token dropped from
    the letter, so no re-drive could sign for it). Two that differ are refused, not chosen
    between."""
    given = {value for name, value in headers.items() if name.lower() == "authorization"}
    given.discard("")
    if len(given) > 1:
        raise Unauthenticated("more than one authorization header, and they differ")
    return next(iter(given), None)


def ingest_authenticator(config: JwtConfig) -> Any:
    """For the ingest consumers: the token must be valid when the message was sent (`at`,
    when the broker vouches for it; else now) and `source` must be its enterprise, which it
    returns."""

    def authenticate(
        envelope: Envelope, headers: Mapping[str, str], at: float | None = None
    ) -> str:
        principal = principal_from_header(config, authorization_of(headers), at)
        if principal is None:
            raise Unauthenticated("missing 'authorization: Bearer <token>' header")
        if not principal.is_tenant:
            raise DomainError("NOT_AUTHORIZED", f"{principal.role.spoken} token cannot submit")
        if envelope.source != principal.enterprise_id:
            raise DomainError(
                "FORGED_SOURCE",
                f"source {envelope.source!r} is not the token's enterprise "
                f"{principal.enterprise_id!r}",
            )
        return envelope.source

    return authenticate
