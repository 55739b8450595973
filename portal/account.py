"""A person's sessions, and the identity provider's back-channel logout.

`/sessions` lists where you are signed in and signs you out of all devices. The back-channel
endpoint is how the issuer says "this sign-in is over" server to server (OpenID Connect
Back-Channel Logout 1.0): its signed `logout_token` names the provider session (`sid`) or the
user (`sub`), and the portal ends the matching sessions on every worker (each worker's identity
cache lets go at once through Redis, within `PORTAL_IDENTITY_CACHE_SECONDS` without it; open
websockets are closed by their watcher).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import jwt
from flask import Blueprint, Response, jsonify, redirect, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from auth.bearer import ALGORITHMS, BearerError, IssuerKeysUnavailable
from auth.sessions import EndReason, session_key
from db.models import SeenLogoutToken, Session, utcnow
from portal.rendering import Rendering

log = logging.getLogger(__name__)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_MAX_AGE = 300


class LogoutTokenError(ValueError):
    pass


def create_account(rendering: Rendering) -> Blueprint:
    services = rendering.services
    settings = services.settings
    account = Blueprint("account", __name__)

    def open_sessions(user_id: int) -> list[Session]:
        with services.database.transaction() as db:
            return list(
                db.scalars(
                    select(Session)
                    .where(
                        Session.user_id == user_id,
                        Session.revoked_at.is_(None),
                        Session.expires_at > utcnow(),
                    )
                    .order_by(Session.last_seen_at.desc())
                )
            )

    @account.get("/sessions")
    def sessions() -> object:
        who = rendering.identity()
        if who is None:
            return redirect("/login?next=/sessions")
        return rendering.page(
            "portal/sessions.html",
            sessions=open_sessions(who.user.id),
            current=session_key(who.session_id),
        )

    @account.post("/sessions/end-all")
    def end_all() -> object:
        who = rendering.identity()
        if who is None:
            return redirect("/")
        if not services.store.check_logout_token(who.session_id, request.form.get("token", "")):
            return rendering.error(400, "Not confirmed", "Use the button on your sessions page.")
        ended = services.store.revoke_user(who.user.id, EndReason.SIGNED_OUT_EVERYWHERE)
        services.resolver.forget(who.session_id)
        services.sockets.close_session(who.session_id, "signed out everywhere")
        log.info("user %s signed out of %d sessions", who.user.id, ended)
        return redirect("/")

    @account.post("/backchannel-logout")
    def backchannel_logout() -> Response:
        try:
            claims = verify_logout_token(request.form.get("logout_token", ""))
            remember(claims["jti"])
        except IssuerKeysUnavailable:
            log.warning("back-channel logout deferred: the issuer's keys are not known yet")
            response = jsonify(
                error="temporarily_unavailable",
                error_description="the issuer's signing keys are not known yet; send it again",
            )
            response.status_code = 503
            response.headers["Retry-After"] = str(IssuerKeysUnavailable.retry_after)
        except LogoutTokenError as error:
            log.warning("back-channel logout refused: %s", error)
            response = jsonify(error="invalid_request", error_description=str(error))
            response.status_code = 400
        else:
            ended = services.store.revoke_provider_session(
                sid=claims.get("sid"), subject=claims.get("sub")
            )
            log.info("back-channel logout ended %d sessions", ended)
            response = Response(status=200)
        response.headers["Cache-Control"] = "no-store"
        return response

    def verify_logout_token(token: str) -> dict:
        """The checks of Back-Channel Logout 1.0 section 2.6, in its order."""
        if not token:
            raise LogoutTokenError("logout_token is missing")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in ALGORITHMS:
                raise LogoutTokenError(f"logout tokens must be RS256, not {header.get('alg')!r}")
            key = services.issuer_keys.key(str(header.get("kid") or ""))
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=settings.client_id,
                issuer=settings.issuer,
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
            raise LogoutTokenError(
                "the logout token names neither a session (sid) nor a user (sub)"
            )
        if "nonce" in claims:
            raise LogoutTokenError("a logout token must not carry a nonce")
        if float(claims["iat"]) < time.time() - LOGOUT_TOKEN_MAX_AGE:
            raise LogoutTokenError("the logout token is too old")
        return claims

    def remember(jti: str) -> None:
        """Record the token's id, refusing one seen before (a replay)."""
        try:
            with services.database.transaction() as db:
                db.add(SeenLogoutToken(jti=str(jti)[:255], expires_at=utcnow() + timedelta(days=1)))
        except IntegrityError:
            raise LogoutTokenError("this logout token was already used") from None

    return account
