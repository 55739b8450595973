"""The built-in development OpenID Connect provider: Auth0's stand-in when none is configured.

Build it with :func:`create_dev_idp` and mount it (the portal mounts it at ``/idp``). Tests and
later features reach its users through :func:`get_store` (``app.extensions["devidp"].store``).
With ``management_client_id``/``management_client_secret`` set it also serves the Auth0
Management API subset the portal uses, at ``<issuer>/api/v2``.
"""

from .app import DevIdp, create_dev_idp, get_store
from .directory import DevIdpRole, DevIdpUser
from .management_http import Faults, RateLimiter
from .settings import DEMO_USERS, DemoUser, DevIdpRefused, DevIdpSettings
from .store import DevIdpStore

__all__ = [
    "DEMO_USERS",
    "DemoUser",
    "DevIdp",
    "DevIdpRefused",
    "DevIdpRole",
    "DevIdpSettings",
    "DevIdpStore",
    "DevIdpUser",
    "Faults",
    "RateLimiter",
    "create_dev_idp",
    "get_store",
]
