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
    detail: str
    """The last thing that went wrong, in a line."""
    output: str
    """Its last lines of output."""
    restarts: int
    """How many times the portal started its process again."""


class ProductState(Protocol):
    """A product as the portal serves it: `status` is "loaded", "broken" or "excluded";
    `process_state`, for a product with a server of its own, tells how that server is doing."""

    info: ProductInfo
    status: str
    error: str | None
    process_state: Callable[[], ProcessView] | None


@dataclass(frozen=True)
class ProductListing:
    """Every product the portal found, with what it reported rather than mounted."""

    products: Sequence[ProductState]
    ignored: Sequence[str]
    """Folders under apps/ that are not tiers (reported, not mounted)."""
    removed: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """By product (`tier/name`): the `PORTAL_BLOCK` entries that remove paths of it."""


@dataclass(frozen=True)
class AdminServices:
    """`AuthFlask.admin_services` of an admin-tier product: the database and the operations the
    admin console needs, so it never builds its own view of users, sessions or products."""

    database: Database
    session_is_live: Callable[[Session, datetime], bool]
    """Whether a stored session still signs someone in (not ended, expired or idle)."""
    user_admin: Callable[[], UserAdmin]
    """User administration through the directory (Auth0) first; raises DirectoryNotConfigured when
    the portal has no Management API credentials."""
    user_sync: Callable[[Progress | None], UserSync]
    products: Callable[[], ProductListing]
    incremental_sync_minutes: int
    tier_roles: TierRoles = DEFAULT_TIER_ROLES
    """Which of the identity provider's roles stand for which tier (PORTAL_TIER_ROLES)."""
