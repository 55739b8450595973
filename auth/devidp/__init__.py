"""The built-in development OpenID Connect provider: Auth0's stand-in when none is configured.

Build it with :func:`create_dev_idp` and mount it (the portal mounts it at ``/idp``). Tests and
later features reach its users through :func:`get_store` (``app.extensions["devidp"].store``).
"""

from .app import DevIdp, create_dev_idp, get_store
from .settings import DEMO_USERS, DemoUser, DevIdpRefused, DevIdpSettings
from .store import DevIdpStore, DevIdpUser

__all__ = [
    "DEMO_USERS",
    "DemoUser",
    "DevIdp",
    "DevIdpRefused",
    "DevIdpSettings",
    "DevIdpStore",
    "DevIdpUser",
    "create_dev_idp",
    "get_store",
]
