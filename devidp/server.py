"""authlib's authorization server, told where this provider keeps things and what goes in tokens.

The protocol work (parameter checks, PKCE, nonce, error answers, client authentication) is
authlib's; this module only supplies storage and the Auth0-shaped claims: a namespaced roles
claim and ``azp`` in the access token, ``sid`` and the roles in the ID token. Scopes are granted
as an Auth0 API with RBAC grants them (``granted_scope``), and a refresh grant may name another
API's ``audience``, as Auth0's multi-resource refresh tokens allow.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, replace
from typing import Any

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Request
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidGrantError,
    InvalidRequestError,
    scope_to_list,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator, JWTBearerTokenValidator
from authlib.oidc.core import OpenIDCode, OpenIDToken, UserInfo
from flask import Flask
from joserfc.jwk import KeySet

from .directory import DevIdpUser
from .management_tokens import (
    ManagementApplication,
    ServiceNotEnabled,
    register_management_grant,
)
from .models import AuthorizationCode, RefreshToken
from .settings import CLIENT_AUTH_METHODS, DevIdpSettings
from .store import DevIdpStore

SCOPES_SUPPORTED = ("openid", "profile", "email", "offline_access")


@dataclass(frozen=True)
class Principal:
    """A user as signed in at the provider: who, in which provider session, since when; and the
    API a token is being issued for (empty: the portal's own)."""

    user: DevIdpUser
    sid: str
    auth_time: int
    audience: str = ""

    def get_user_id(self) -> str:
        return self.user.subject


class DevClient(ClientMixin):
    """The portal, registered as one confidential web application, as in the Auth0 tenant."""

    def __init__(self, settings: DevIdpSettings) -> None:
        self.client_id = settings.client_id
        self._secret = settings.client_secret
        self._scopes = (*SCOPES_SUPPORTED, settings.admin_scope)
        self.redirect_uris = settings.redirect_uris
        self.client_metadata = {
            "post_logout_redirect_uris": list(settings.post_logout_redirect_uris)
        }

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        """None: the portal must name its callback, like Auth0 requires."""
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Unknown scopes are dropped rather than refused, as Auth0 does. API permissions
        (``verb:thing``) pass here; which of them the user gets for which API is decided when
        the token is made (`granted_scope`)."""
        return " ".join(s for s in scope_to_list(scope or "") if s in self._scopes or ":" in s)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self._secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in CLIENT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


class S256Required(CodeChallenge):
    """PKCE for every authorization request, S256 only: authlib alone requires it only for
    public clients and would accept ``plain``."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - authlib reads a class attribute

    def validate_code_challenge(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send 'code_challenge' (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only 'code_challenge_method=S256' is supported.")
        super().validate_code_challenge(grant, redirect_uri)


def identity_claims(settings: DevIdpSettings, user: DevIdpUser) -> dict[str, Any]:
    """What the ID token and /userinfo say about a person, roles in the namespaced claim."""
    return {
        "sub": user.subject,
        "email": user.email,
        "email_verified": True,
        "name": user.name,
        settings.roles_claim: list(user.roles),
    }


def granted_scope(
    settings: DevIdpSettings, user: DevIdpUser, audience: str, requested: str | None
) -> str:
    """What of ``requested`` the user gets, as an Auth0 API with RBAC decides it: the OpenID
    scopes; the admin scope only for the portal's API and only through the admin role, never
    because it was asked for; for another API, its own permissions (``verb:thing``), which this
    provider lets every user hold. Anything else is dropped."""

    def allowed(scope: str) -> bool:
        if scope in SCOPES_SUPPORTED:
            return True
        if scope == settings.admin_scope:
            return audience == settings.audience and settings.role_name("admin") in user.roles
        return audience != settings.audience and ":" in scope

    return " ".join(s for s in scope_to_list(requested or "") if allowed(s))


class _IdTokenClaims:
    """Signing and claims shared by the code grant's and the refresh grant's ID tokens."""

    def __init__(self, settings: DevIdpSettings, store: DevIdpStore) -> None:
        self.settings = settings
        self.store = store

    def resolve_client_private_key(self, client: DevClient) -> KeySet:
        return self.store.signing_key_set()

    def get_client_claims(self, client: DevClient) -> dict[str, Any]:
        return {
            "iss": self.settings.issuer,
            "aud": client.get_client_id(),
            "exp": int(time.time()) + self.settings.id_token_ttl,
        }

    def generate_user_info(self, user: Principal, scope: str) -> UserInfo:
        claims = identity_claims(self.settings, user.user)
        claims.update(sid=user.sid, auth_time=user.auth_time)
        return UserInfo(claims)


class DevOpenIDCode(_IdTokenClaims, OpenIDCode):
    def __init__(self, settings: DevIdpSettings, store: DevIdpStore) -> None:
        _IdTokenClaims.__init__(self, settings, store)
        OpenIDCode.__init__(self, require_nonce=False)

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return self.store.nonce_was_used(request.payload.client_id, nonce)


class DevOpenIDRefresh(_IdTokenClaims, OpenIDToken):
    """Auth0 returns a fresh ID token on refresh when ``openid`` was granted; so does this."""


class DevTokenGenerator(JWTBearerTokenGenerator):
    """JWT access tokens like Auth0's API tokens; a refresh token only with ``offline_access``."""

    def __init__(self, settings: DevIdpSettings, store: DevIdpStore) -> None:
        super().__init__(
            issuer=settings.issuer,
            refresh_token_generator=lambda **_: generate_token(48),
            expires_generator=lambda client, grant_type: settings.access_token_ttl,
        )
        self.settings = settings
        self.store = store

    def get_jwks(self) -> KeySet:
        return self.store.signing_key_set()

    def get_audiences(self, client: DevClient, user: Principal, scope: str) -> str:
        return user.audience or self.settings.audience

    def get_auth_time(self, user: Principal) -> int:
        return user.auth_time

    def get_extra_claims(
        self, client: DevClient, grant_type: str, user: Principal, scope: str
    ) -> dict[str, Any]:
        return {"azp": client.get_client_id(), self.settings.roles_claim: list(user.user.roles)}

    def generate(
        self,
        grant_type: str,
        client: DevClient,
        user: Principal | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """Only what the user may have of ``scope``; a refresh token with ``offline_access``,
        and at every refresh (rotation), whatever that refresh's access token is for."""
        if user is not None:
            scope = granted_scope(
                self.settings, user.user, user.audience or self.settings.audience, scope
            )
        renews = grant_type == "refresh_token" or "offline_access" in scope_to_list(scope or "")
        return super().generate(
            grant_type, client, user, scope, expires_in, include_refresh_token and renews
        )


def _principal(store: DevIdpStore, subject: str, sid: str, auth_time: int) -> Principal | None:
    """The user as the store has them now, so role changes (and blocks) apply at refresh."""
    user = store.get_user(subject)
    return Principal(user, sid, auth_time) if user and not user.blocked else None


class DevAuthorizationServer(AuthorizationServer):
    """authlib's server for one provider: the applications registered with it and where refresh
    tokens go. Its grants, which authlib builds afresh for every request, find the settings and
    the store here, through ``self.server``."""

    def __init__(self, app: Flask, settings: DevIdpSettings, store: DevIdpStore) -> None:
        self.settings = settings
        self.store = store
        portal = DevClient(settings)
        self.clients: dict[str, ClientMixin] = {portal.client_id: portal}
        if settings.management_enabled:
            self.clients.setdefault(settings.management_client_id, ManagementApplication(settings))
        super().__init__(app)

    def query_client(self, client_id: str) -> ClientMixin | None:
        return self.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """A rotated refresh token keeps the grant of the one it replaces, whatever API the
        access token issued with it is for."""
        if "refresh_token" in token:
            principal: Principal = request.user
            replaced = request.refresh_token
            self.store.save_refresh_token(
                token["refresh_token"],
                client_id=self.settings.client_id,
                subject=principal.user.subject,
                sid=principal.sid,
                scope=replaced.get_scope() if replaced else token.get("scope", ""),
                auth_time=principal.auth_time,
                ttl=self.settings.refresh_token_ttl,
            )


class CodeGrant(AuthorizationCodeGrant):
    """The authorization code grant, its codes kept in the store and each redeemable once."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    server: DevAuthorizationServer

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        principal: Principal = request.user
        data = request.payload.data
        self.server.store.save_authorization_code(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri,
            response_type=request.payload.response_type,
            scope=request.scope,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            subject=principal.user.subject,
            sid=principal.sid,
            auth_time=principal.auth_time,
        )

    def query_authorization_code(self, code: str, client: DevClient) -> AuthorizationCode | None:
        return self.server.store.claim_authorization_code(code, client.get_client_id())

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Nothing to do: the code was marked used the moment it was presented."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Principal | None:
        code = authorization_code
        return _principal(self.server.store, code.subject, code.sid, code.auth_time)


class RefreshGrant(RefreshTokenGrant):
    """Auth0's refresh grant, multi-resource: ``audience`` may name another API, whose token
    then carries that API's permissions the user holds; the refresh token rotates and keeps the
    sign-in's grant whatever the access token was for."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: DevAuthorizationServer

    def audience(self) -> str:
        return str(self.request.payload.data.get("audience") or self.server.settings.audience)

    def validate_token_request(self) -> None:
        """The Management API is refused before the refresh token is spent: Auth0 allows it in
        no refresh token policy."""
        if self.audience() == self.server.settings.management_audience:
            raise ServiceNotEnabled(
                "The Management API is not available with a user's refresh token."
            )
        super().validate_token_request()

    def _validate_token_scope(self, token: RefreshToken) -> None:
        """For the portal's API no scope beyond the sign-in's; another API's permissions are the
        user's to have or not (`granted_scope`), not the sign-in's."""
        if self.audience() == self.server.settings.audience:
            super()._validate_token_scope(token)

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        return self.server.store.claim_refresh_token(refresh_token)

    def authenticate_user(self, refresh_token: RefreshToken) -> Principal:
        """A blocked or deleted user's refresh is ``invalid_grant``, as Auth0 answers it
        (authlib's default, ``invalid_request``, reads to a client as its own mistake)."""
        token = refresh_token
        principal = _principal(self.server.store, token.subject, token.sid, token.auth_time)
        if principal is None:
            raise InvalidGrantError("user is blocked")
        return replace(principal, audience=self.audience())

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Nothing to do: the token was revoked the moment it was presented."""


def create_authorization_server(
    app: Flask, settings: DevIdpSettings, store: DevIdpStore
) -> DevAuthorizationServer:
    server = DevAuthorizationServer(app, settings, store)
    server.register_token_generator("default", DevTokenGenerator(settings, store))
    server.register_grant(CodeGrant, [S256Required(required=True), DevOpenIDCode(settings, store)])
    server.register_grant(RefreshGrant, [DevOpenIDRefresh(settings, store)])
    register_management_grant(server, settings, store)
    return server


class DevTokenValidator(JWTBearerTokenValidator):
    """Checks access tokens against the keys the store publishes, so rotation applies at once."""

    def __init__(self, store: DevIdpStore, issuer: str, audience: str) -> None:
        super().__init__(issuer, audience)
        self.store = store

    def get_jwks(self) -> KeySet:
        return KeySet.import_key_set(self.store.public_jwks())


def create_resource_protector(
    settings: DevIdpSettings, store: DevIdpStore, audience: str | None = None
) -> ResourceProtector:
    """Checks bearer access tokens: ours, unexpired, for ``audience`` (default: the portal's API,
    what /userinfo accepts; the Management API passes its own)."""
    protector = ResourceProtector()
    protector.register_token_validator(
        DevTokenValidator(store, settings.issuer, audience or settings.audience)
    )
    return protector
