"""What products import: the product kit.

A product needs nothing from the portal to be protected (the Gate runs before it); the kit is
the comfort on top, and the one package products import from the portal's code:

    from kit import AuthFlask, current_user       # a Flask app in the portal's frame
    from kit import PortalSock                    # websocket routes the portal watches
    from kit import channel, BroadcastError       # messages to every socket, on every worker
    from kit import mount_path_of                 # the URL prefix, for Dash and alike
    from kit import Tier, PortalUser, ProductInfo # who is asking, and about what
    from kit.testing import product_client        # a product's own tests, without the portal
"""

from auth.identity import (
    AUTH_METHOD_ENVIRON_KEY,
    LOGOUT_TOKEN_ENVIRON_KEY,
    PRODUCT_ENVIRON_KEY,
    USER_ENVIRON_KEY,
    PortalUser,
    ProductInfo,
    SignInAgain,
    TokenUnavailable,
)
from auth.tiers import TIER_NAMES, TIERS_DESCENDING, Tier
from kit.authflask import AuthFlask, current_user
from kit.broadcast import BroadcastError, channel
from kit.mount import mount_path_of
from kit.websockets import PortalSock, PortalWebSocket

__all__ = [
    "AUTH_METHOD_ENVIRON_KEY",
    "LOGOUT_TOKEN_ENVIRON_KEY",
    "PRODUCT_ENVIRON_KEY",
    "TIERS_DESCENDING",
    "TIER_NAMES",
    "USER_ENVIRON_KEY",
    "AuthFlask",
    "BroadcastError",
    "PortalSock",
    "PortalUser",
    "PortalWebSocket",
    "ProductInfo",
    "SignInAgain",
    "Tier",
    "TokenUnavailable",
    "channel",
    "current_user",
    "mount_path_of",
]
