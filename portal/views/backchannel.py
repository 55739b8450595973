"""`POST /backchannel-logout`: the identity provider ends sign-ins server to server.

The portal ends the sessions the token names on every worker (each worker's identity cache lets
go at once through Redis, within `PORTAL_IDENTITY_CACHE_SECONDS` without it; open websockets are
closed by their watcher). The checks are `auth.backchannel`'s.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from auth.backchannel import LogoutTokenError, accept_logout_token, verify_logout_token
from auth.bearer import IssuerKeysUnavailable
from portal.api_description import PORTAL_API, LogoutTokenForm, OidcError
from portal.views import services

log = logging.getLogger(__name__)

backchannel = Blueprint("backchannel", __name__)


@backchannel.post("/backchannel-logout")
@PORTAL_API.describe(
    form=LogoutTokenForm,
    responses={200: None, 400: OidcError, 503: OidcError},
    tags=["sign-in"],
    public=True,
)
def logout() -> Response:
    """End the sessions a logout token from the identity provider names."""
    current = services()
    try:
        claims = verify_logout_token(
            request.form.get("logout_token", ""),
            keys=current.issuer_keys,
            issuer=current.settings.issuer,
            client_id=current.settings.client_id,
        )
        accept_logout_token(current.database, claims)
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
        ended = current.store.revoke_provider_session(
            sid=claims.get("sid"), subject=claims.get("sub")
        )
        log.info("back-channel logout ended %d sessions", ended)
        response = Response(status=200)
    response.headers["Cache-Control"] = "no-store"
    return response
