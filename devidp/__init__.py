"""The development identity provider: a whole OpenID Connect provider, the stand-in for Auth0.

The portal signs people in through Auth0 (or any OpenID Connect issuer) and has no other sign-in
path. This package lets that same production code path run on a laptop, in CI and in the tests,
with no tenant and no network, so it answers like Auth0 where the portal depends on it: discovery,
RS256 keys that rotate, authorization code with PKCE, refresh, userinfo, end-session, back-channel
logout, the namespaced roles claim, demo users of every tier, and the Auth0 Management API subset
the portal's directory uses, with Auth0's paging caps, 429s and export jobs.

It stands apart from the portal: its own settings, store, database and templates, and it imports
nothing of ``auth``, ``db`` or ``portal``. It refuses to run in production (:class:`DevIdpRefused`;
its demo passwords are printed on its login page). Only development wiring uses it: the portal
builds it and mounts it at ``/idp`` when no issuer is configured, ``portal dev-idp`` serves it on a
port of its own and ``portal token`` asks it for an access token.

Build it with :func:`create_dev_idp` and mount it anywhere. Tests and later features reach its
users through :func:`get_store` (``app.extensions["devidp"].store``).
With ``management_client_id``/``management_client_secret`` set it also serves the Auth0
Management API subset the portal uses, at ``<issuer>/api/v2`` (including Auth0's
``POST /keys/signing/rotate``). With ``backchannel_logout_uri`` set it sends OpenID Connect
Back-Channel Logout tokens there whenever a provider session ends; see :mod:`.backchannel`.
``DevIdp.rotate_keys`` and ``DevIdp.end_provider_sessions`` drive rotation and sign-out-elsewhere
from tests; ``DevIdp.token_requests`` and ``DevIdp.backchannel_deliveries`` let tests count.

Where things are: :mod:`.app` assembles the Flask app; :mod:`.state` is what every view shares
(``current_app.extensions["devidp"]``); :mod:`.login` is the browser's side (login page,
sign-out); :mod:`.endpoints` the OAuth endpoints; :mod:`.errors` how errors are answered;
:mod:`.server` configures authlib's authorization server; ``management_*`` and :mod:`.exports`
are the Management API; :mod:`.store`, :mod:`.models`, :mod:`.directory` and :mod:`.keys` keep
its data.
"""

from .app import create_dev_idp, get_store
from .backchannel import BACKCHANNEL_LOGOUT_EVENT, BackchannelLogout, Delivery, DeliveryLog
from .counters import RequestCounter
from .directory import DevIdpRole, DevIdpUser
from .management_http import Faults, RateLimiter
from .settings import DEMO_USERS, DemoUser, DevIdpRefused, DevIdpSettings
from .state import DevIdp
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
