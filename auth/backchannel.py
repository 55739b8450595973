"""OpenID Connect Back-Channel Logout 1.0: the issuer says "this sign-in is over", server to server.

Its signed `logout_token` names the provider's session (`sid`) or the user (`sub`). It is checked
as section 2.6 says, in its order: a JWT signed by one of the issuer's keys (RS256 only), for this
client, from this issuer, recent, carrying the back-channel logout event, naming a session or a
user, without a nonce, and never seen before (its `jti` is remembered).
"""

from __future__ import annotations

import time

import jwt

from auth.bearer import ALGORITHMS, BearerError, IssuerKeys, IssuerKeysUnavailable
from db.engine import Database
from db.logout_tokens import AlreadySeen, remember_logout_token

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_MAX_AGE = 300


class LogoutTokenError(ValueError):
    """The logout token is refused; the message says why."""


def verify_logout_token(token: str, *, keys: IssuerKeys, issuer: str, client_id: str) -> dict:
    """The token's claims when it passes every check; LogoutTokenError otherwise, and
    IssuerKeysUnavailable while the issuer's keys are not known yet (it may be sent again)."""
    if not token:
        raise LogoutTokenError("logout_token is missing")
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in ALGORITHMS:
            raise LogoutTokenError(f"logout tokens must be RS256, not {header.get('alg')!r}")
        claims = jwt.decode(
            token,
            keys.key(str(header.get("kid") or "")),
            algorithms=list(ALGORITHMS),
            audience=client_id,
            issuer=issuer,
            leeway=30,
            options={"require": ["iss", "aud", "iat", "jti", "events"]},
        )
    except IssuerKeysUnavailable:
        raise
    except (jwt.InvalidTokenError, BearerError) as error:
        raise LogoutTokenError(f"the logout token does not verify: {error}") from None
    if not isinstance(claims.get("events"), dict) or BACKCHANNEL_EVENT not in claims["events"]:
        raise LogoutTokenError("the logout token carries no back-channel logout event")
    if not (claims.get("sid") or claims.get("sub")):
        raise LogoutTokenError("the logout token names neither a session (sid) nor a user (sub)")
    if "nonce" in claims:
        raise LogoutTokenError("a logout token must not carry a nonce")
    if float(claims["iat"]) < time.time() - LOGOUT_TOKEN_MAX_AGE:
        raise LogoutTokenError("the logout token is too old")
    return claims


def accept_logout_token(database: Database, claims: dict) -> None:
    """Remember the token's `jti`; a second time is a replay."""
    try:
        remember_logout_token(database, claims["jti"])
    except AlreadySeen:
        raise LogoutTokenError("this logout token was already used") from None
