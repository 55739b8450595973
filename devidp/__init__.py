"""The built-in development OpenID Connect provider: Auth0's stand-in when none is configured.

Build it with :func:`create_dev_idp` and mount it (the portal mounts it at ``/idp``). Tests and
later features reach its users through :func:`get_store` (``app.extensions["devidp"].store``).
With ``management_client_id``/``management_client_secret`` set it also serves the Auth0
Management API subset the portal uses, at ``<issuer>/api/v2`` (including Auth0's
``POST /keys/signing/rotate``). With ``backchannel_logout_uri`` set it sends OpenID Connect
Back-Channel Logout tokens there whenever a provider session ends; see :mod:`.backchannel`.
``DevIdp.rotate_keys`` and ``DevIdp.end_provider_sessions`` drive rotation and sign-out-elsewhere
from tests; ``DevIdp.token_requests`` and ``DevIdp.backchannel_deliveries`` let tests count.
"""

from .app import DevIdp, create_dev_idp, get_store
from .backchannel import BACKCHANNEL_LOGOUT_EVENT, BackchannelLogout, Delivery, DeliveryLog
from .counters import RequestCounter
from .directory import DevIdpRole, DevIdpUser
from .management_http import Faults, RateLimiter
from .settings import DEMO_USERS, DemoUser, DevIdpRefused, DevIdpSettings
from .store import DevIdpStore

__all__ = [
    "BACKCHANNEL_LOGOUT_EVENT",
    "DEMO_USERS",
    "BackchannelLogout",
    "Delivery",
    "DeliveryLog",
    "DemoUser",
    "DevIdp",
    "DevIdpRefused",
    "DevIdpRole",
    "DevIdpSettings",
    "DevIdpStore",
    "DevIdpUser",
    "Faults",
    "RateLimiter",
    "RequestCounter",
    "create_dev_idp",
    "get_store",
]
