"""The portal as an OpenID Connect client, through authlib's Flask integration.

authlib does the protocol work: discovery, PKCE (S256), state and nonce, and the ID token's
signature, `exp` and `nonce`. Its default claim options check `iss` but not `aud` (only `azp`), so
`id_token_claims` asks for both: a token minted for another client of the same issuer is refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask
from joserfc.errors import JoseError

from auth.identity import TokenUnavailable
from auth.user_tokens import RefreshRefused

HTTP_TIMEOUT_SECONDS = 5.0

#: Everything a callback can fail with that is the caller's or the issuer's doing, not a bug:
#: authlib's own errors (a missing code or state, the issuer's `error=`), and the ID token's.
SIGN_IN_ERRORS = (AuthlibBaseError, JoseError)
ISSUER_UNREACHABLE = (requests.RequestException,)


def register_issuer(
    app: Flask,
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    scopes: str,
    timeout: float = HTTP_TIMEOUT_SECONDS,
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
            "default_timeout": timeout,
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
    client: FlaskOAuth2App,
    *,
    id_token: str | None,
    return_to: str,
    client_id: str,
    auth0_domain: str = "",
) -> str | None:
    """Where to send the browser so the issuer ends its session too; None if it can't say.

    The standard end-session endpoint when the issuer advertises one; Auth0's own `/v2/logout`
    only when the portal was configured with AUTH0_DOMAIN and the tenant advertises none (RP-
    initiated logout switched off), so other issuers never see an Auth0-only URL.
    """
    try:
        metadata = client.load_server_metadata()
    except ISSUER_UNREACHABLE:
        return None
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint and auth0_domain:
        query = urlencode({"returnTo": return_to, "client_id": client_id})
        return f"https://{auth0_domain}/v2/logout?{query}"
    if not endpoint:
        return None
    params = {"post_logout_redirect_uri": return_to, "client_id": client_id}
    if id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}?{urlencode(params)}"


class IssuerMetadata:
    """The issuer's discovery document, fetched when first needed and kept for an hour; a
    failed refetch keeps the copy already known, so an issuer outage doesn't cascade."""

    def __init__(
        self, issuer: str, *, lifetime: float = 3600.0, timeout: float = HTTP_TIMEOUT_SECONDS
    ) -> None:
        self.url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        self.lifetime = lifetime
        self.timeout = timeout
        self._document: dict | None = None
        self._fetched_at = 0.0
        self._failed_at = -1e9
        self._lock = threading.Lock()

    def reachable(self, *, remember_failure_seconds: float = 5.0) -> bool:
        """Whether the issuer answers now: a cached document alone would send browsers to a
        provider that is down. A failure is remembered for a few seconds, so a burst of
        sign-ins during an outage doesn't probe it again and again."""
        with self._lock:
            if time.monotonic() - self._failed_at < remember_failure_seconds:
                return False
        try:
            requests.get(self.url, timeout=min(3.0, self.timeout)).raise_for_status()
        except requests.RequestException:
            with self._lock:
                self._failed_at = time.monotonic()
            return False
        return True

    def get(self) -> dict:
        with self._lock:
            if self._document is None or time.monotonic() - self._fetched_at > self.lifetime:
                try:
                    response = requests.get(self.url, timeout=self.timeout)
                    response.raise_for_status()
                    self._document = response.json()
                    self._fetched_at = time.monotonic()
                except (requests.RequestException, ValueError):
                    if self._document is None:
                        raise
            return self._document


def refresher(metadata: IssuerMetadata, client_id: str, client_secret: str) -> Callable[..., dict]:
    """Redeems a refresh token at the issuer, with extra parameters of the grant (`audience`,
    `scope`); RefreshRefused when the issuer says no to the refresh token itself."""

    def refresh(refresh_token: str, **params: str) -> dict:
        client = OAuth2Session(
            client_id,
            client_secret,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
        )
        try:
            return dict(
                client.refresh_token(
                    metadata.get()["token_endpoint"],
                    refresh_token=refresh_token,
                    timeout=metadata.timeout,
                    **params,
                )
            )
        except OAuthError as error:
            if error.error in {"invalid_grant", "invalid_client", "unauthorized_client"}:
                raise RefreshRefused(f"{error.error}: {error.description}") from error
            raise TokenUnavailable(f"the identity provider failed the refresh: {error}") from error
        except (requests.RequestException, ValueError, KeyError) as error:
            raise TokenUnavailable(f"the identity provider is unreachable: {error}") from error
        finally:
            client.close()

    return refresh
