"""The portal's own pages and endpoints, as module-level blueprints.

Each view finds the portal's parts in `current_app.extensions`: the services under "portal", the
identity provider's client under authlib's key. So the same blueprints serve every portal app a
process builds (the tests build many), and `flask --app portal routes` lists them all.
"""

from __future__ import annotations

from authlib.integrations.flask_client import FlaskOAuth2App
from flask import Response, current_app

from portal.services import Services


def services() -> Services:
    """The portal's services, for the request being served."""
    return current_app.extensions["portal"]


def issuer() -> FlaskOAuth2App:
    """The identity provider's OpenID Connect client (authlib), registered as `idp`."""
    return current_app.extensions["authlib.integrations.flask_client"].idp


def go(url: str, code: int = 302) -> Response:
    """A redirect from one of the portal's views: every one goes through `auth.locations`."""
    return services().locations.response(url, code)
