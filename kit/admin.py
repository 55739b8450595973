"""What the portal hands a product in the admin tier: a small, typed list of what it may do.

Only admin-tier products get it (the Gate opens that tier to admins alone); it is how the admin
console reads the user table and changes users, always through the same `UserAdmin` as the
`portal users` commands, so Auth0, the table and the audit log stay in step. It holds nothing
else of the portal: no settings, no secrets, no session internals beyond telling whether a
session is still live.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from auth.tier_roles import DEFAULT_TIER_ROLES, TierRoles

if TYPE_CHECKING:
    from datetime import datetime

    from auth.identity import ProductInfo
    from db.engine import Database
    from db.models import Session
    from directory.sync import Progress, UserSync
    from directory.user_admin import UserAdmin


class ProcessView(Protocol):
    """How a product's own server is doing (a `command` or `upstream` product): `state` is
    "starting", "up", "down", "unhealthy", "restarting" or "failed"."""

    state: str
    #: The last thing that went wrong, in a line.
    detail: str
    #: Its last lines of output.
    output: str
    #: How many times the portal started its process again.
    restarts: int


class ProductState(Protocol):
    """A product as the portal serves it: `status` is "loaded", "broken" or "excluded";
    `process_state`, for a product with a server of its own, tells how that server is doing."""

    info: ProductInfo
    status: str
    error: str | None
    process_state: Callable[[], ProcessView] | None


@dataclass(frozen=True)
class ProductListing:
    products: Sequence[ProductState]
    #: Folders under apps/ that are not tiers (reported, not mounted).
    ignored: Sequence[str]
    #: By product (`tier/name`): the `PORTAL_BLOCK` entries that remove paths of it.
    removed: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class AdminServices:
    database: Database
    #: Whether a stored session still signs someone in (not ended, expired or idle).
    session_is_live: Callable[[Session, datetime], bool]
    #: User administration through the directory (Auth0) first; raises DirectoryNotConfigured
    #: when the portal has no Management API credentials.
    user_admin: Callable[[], UserAdmin]
    user_sync: Callable[[Progress | None], UserSync]
    products: Callable[[], ProductListing]
    incremental_sync_minutes: int
    #: Which of the identity provider's roles stand for which tier (PORTAL_TIER_ROLES).
    tier_roles: TierRoles = DEFAULT_TIER_ROLES
