"""The provider's machine-facing endpoints at the paths Auth0 uses, relative to its mount:
discovery, signing keys, the token endpoint and userinfo; and the index page that links them.

They answer in OAuth JSON, their errors too (see :mod:`.errors`).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, jsonify, render_template, request

from .errors import oauth_json_error
from .server import SCOPES_SUPPORTED, identity_claims
from .settings import DEMO_USERS, DevIdpSettings
from .state import current_idp

blueprint = Blueprint("endpoints", __name__)


def discovery_document(settings: DevIdpSettings) -> dict[str, Any]:
    base = settings.base_url
    return {
        "issuer": settings.issuer,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "end_session_endpoint": f"{base}/oidc/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "scopes_supported": list(SCOPES_SUPPORTED),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "sid",
            "email",
            "email_verified",
            "name",
            settings.roles_claim,
        ],
        "request_parameter_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }


@blueprint.post("/oauth/token")
def token() -> Response:
    idp = current_idp()
    idp.token_requests.add(request.form.get("grant_type") or "")
    return idp.server.create_token_response()


@blueprint.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response | tuple[Response, int]:
    idp = current_idp()
    try:
        claims = idp.userinfo_bearer.acquire_token("openid")
    except OAuth2Error as error:
        return oauth_json_error(error)
    user = idp.store.get_user(str(claims.get("sub")))
    if user is None:
        gone = "The user no longer exists."
        return jsonify(error="invalid_token", error_description=gone), 401
    return jsonify(identity_claims(idp.settings, user))


@blueprint.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    return jsonify(discovery_document(current_idp().settings))


@blueprint.get("/.well-known/jwks.json")
def jwks() -> Response:
    return jsonify(current_idp().store.public_jwks())


@blueprint.get("/")
def index() -> str:
    issuer = current_idp().settings.issuer
    return render_template("devidp/index.html", issuer=issuer, demo_users=DEMO_USERS)
