"""Machine-to-machine tokens for the Management API, issued the way Auth0 issues them.

A separate application (``management_client_id``) asks ``/oauth/token`` with
``grant_type=client_credentials`` and ``audience=<issuer>/api/v2/`` and gets an RS256 JWT whose
``scope`` lists the Management scopes. The portal's own web client cannot use this grant, as in
an Auth0 tenant where only an authorized machine-to-machine application can.
"""

from __future__ import annotations

import hmac
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, scope_to_list
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeySet

from .settings import CLIENT_AUTH_METHODS, DevIdpSettings
from .store import DevIdpStore

MANAGEMENT_SCOPES = (
    "read:users",
    "update:users",
    "delete:users",
    "read:users_app_metadata",
    "update:users_app_metadata",
    "read:roles",
    "read:role_members",
    "create:role_members",
    "delete:role_members",
    "read:signing_keys",
    "create:signing_keys",
)


class ServiceNotEnabled(OAuth2Error):
    """Auth0's answer to a token request for an API the application is not authorized for."""

    error = "access_denied"
    status_code = 403


class ManagementApplication(ClientMixin):
    """The machine-to-machine application authorized for the Management API."""

    def __init__(self, settings: DevIdpSettings) -> None:
        self.client_id = settings.management_client_id
        self._secret = settings.management_client_secret

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Every Management scope unless fewer are asked for, like Auth0's client grant."""
        asked = scope_to_list(scope or "") or list(MANAGEMENT_SCOPES)
        return " ".join(s for s in asked if s in MANAGEMENT_SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self._secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in CLIENT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class ManagementTokenGenerator(JWTBearerTokenGenerator):
    def __init__(self, settings: DevIdpSettings, store: DevIdpStore) -> None:
        super().__init__(
            issuer=settings.issuer,
            expires_generator=lambda client, grant_type: settings.access_token_ttl,
        )
        self.settings = settings
        self.store = store

    def get_jwks(self) -> KeySet:
        return self.store.signing_key_set()

    def get_audiences(self, client: ClientMixin, user: object, scope: str) -> str:
        return self.settings.management_audience

    def get_extra_claims(
        self, client: ClientMixin, grant_type: str, user: object, scope: str
    ) -> dict[str, Any]:
        return {"azp": client.get_client_id(), "gty": "client-credentials"}


class AudienceGrant(ClientCredentialsGrant):
    """Client credentials for ``<issuer>/api/v2/`` and nothing else, answered as Auth0 does."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        audience = self.server.settings.management_audience
        asked = self.request.payload.data.get("audience")
        if asked != audience:
            raise ServiceNotEnabled(
                f"Service not enabled within domain: {asked}"
                if asked
                else f"Send audience={audience} (the Management API's identifier)."
            )


def register_management_grant(
    server: AuthorizationServer, settings: DevIdpSettings, store: DevIdpStore
) -> None:
    """Let the management application get tokens for ``<issuer>/api/v2/`` and nothing else."""
    server.register_grant(AudienceGrant)
    server.register_token_generator("client_credentials", ManagementTokenGenerator(settings, store))
