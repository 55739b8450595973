"""The portal as an OpenID Connect client, through authlib's Flask integration.

authlib does the protocol work: discovery, PKCE (S256), state and nonce, and the ID token's
signature, `exp` and `nonce`. Its default claim options check `iss` but not `aud` (only `azp`), so
`id_token_claims` asks for both: a token minted for another client of the same issuer is refused.
"""

from __future__ import annotations

from urllib.parse import urlencode

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask
from joserfc.errors import JoseError

HTTP_TIMEOUT_SECONDS = 10

#: Everything a callback can fail with that is the caller's or the issuer's doing, not a bug.
SIGN_IN_ERRORS = (OAuthError, JoseError)
ISSUER_UNREACHABLE = (requests.RequestException,)


def register_issuer(
    app: Flask, *, issuer: str, client_id: str, client_secret: str, scopes: str
) -> OAuth:
    oauth = OAuth(app)
    oauth.register(
        "idp",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": scopes,
            "code_challenge_method": "S256",
            "default_timeout": HTTP_TIMEOUT_SECONDS,
        },
    )
    return oauth


def id_token_claims(metadata: dict, client_id: str) -> dict[str, dict]:
    """Claim options for authlib: the ID token must come from this issuer, for this client."""
    return {
        "iss": {"essential": True, "value": metadata["issuer"]},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
    }


def end_session_url(
    oauth: OAuth, *, id_token: str | None, return_to: str, client_id: str
) -> str | None:
    """Where to send the browser so the issuer ends its session too; None if it can't say."""
    try:
        metadata = oauth.idp.load_server_metadata()
    except ISSUER_UNREACHABLE:
        return None
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return None
    params = {"post_logout_redirect_uri": return_to, "client_id": client_id}
    if id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}?{urlencode(params)}"
