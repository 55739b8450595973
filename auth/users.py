"""People as the portal knows them: what a sign-in says becomes a row, a row becomes an identity.

The identity provider says who someone is and which roles they hold; the portal turns the roles
into a tier (`auth.tiers`) and keeps both in the `users` table (`db.users` writes the row). Every
request then works from the row, through one function, `identity_from_row`, whether it came with
a session, an access token or an open websocket.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from auth.identity import PortalUser, ProductInfo
from auth.tier_roles import DEFAULT_TIER_ROLES, TierRoles
from auth.tiers import Tier
from db.engine import Database
from db.models import User
from db.users import UserRecord, add_missing_users, upsert_user


@dataclass(frozen=True)
class SignIn:
    """What the identity provider told us about a person at sign-in."""

    subject: str
    email: str
    name: str
    roles: Sequence[str]
    picture: str = ""

    def record(self, tier_roles: TierRoles = DEFAULT_TIER_ROLES) -> UserRecord:
        """The row's fields: the tier follows the roles the token carries."""
        roles = [role for role in self.roles if isinstance(role, str)]
        return UserRecord(
            subject=self.subject,
            email=self.email,
            name=self.name,
            roles=roles,
            tier=tier_roles.tier_of(roles).value,
            picture=self.picture,
        )


def record_sign_in(
    database: Database, sign_in: SignIn, tier_roles: TierRoles = DEFAULT_TIER_ROLES
) -> User:
    """Create or update the person's row from their sign-in."""
    return upsert_user(database, sign_in.record(tier_roles))


def ensure_users(
    database: Database, people: Sequence[SignIn], tier_roles: TierRoles = DEFAULT_TIER_ROLES
) -> int:
    """Add the people missing from the table; returns how many were added."""
    return add_missing_users(database, [person.record(tier_roles) for person in people])


@dataclass(frozen=True)
class Identity:
    user: PortalUser
    blocked: bool
    session_id: str
    logout_token: str
    grants: frozenset[str] = frozenset()
    #: The scopes of the bearer token this identity came with; a session has none.
    scopes: frozenset[str] = frozenset()
    _seen_as: dict[Hashable, PortalUser] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def user_as_seen(self, by: Hashable, make: Callable[[], PortalUser]) -> PortalUser:
        """The user as one product's Gate hands it over (with that product's token source),
        made on the first request and kept for as long as this identity is cached, so a request
        that hits the identity cache builds nothing."""
        user = self._seen_as.get(by)
        if user is None:
            user = self._seen_as[by] = make()
        return user

    def opens(self, product: ProductInfo, needed: Tier | None = None) -> bool:
        """The user's tier opens the product (or the part of it that `needed` names), or an admin
        granted this one product to them. A grant opens the product at its folder's tier, not
        its stricter sub-paths: those were raised for a reason the grant did not weigh. Admin
        products hold the portal's own services, so only the admin tier opens them."""
        if needed is not None and needed.rank > product.tier.rank:
            return self.user.tier.opens(needed)
        if self.user.tier.opens(product.tier):
            return True
        return product.tier is not Tier.ADMIN and product.key in self.grants


def identity_from_row(
    row: User,
    grants: frozenset[str],
    *,
    session_id: str = "",
    logout_token: str = "",
    tier_cap: Tier | None = None,
    scopes: frozenset[str] = frozenset(),
    blocked: bool = False,
) -> Identity:
    """Who a user row is, for a request: `tier_cap` is an access token's tier (a token never
    opens more than the row's tier, nor the row more than the token's); `blocked` adds a block
    the row doesn't show (a session ended because of one)."""
    tier = Tier.parse(row.tier)
    if tier_cap is not None and tier_cap.rank < tier.rank:
        tier = tier_cap
    return Identity(
        user=PortalUser(id=row.id, subject=row.subject, email=row.email, name=row.name, tier=tier),
        blocked=row.refused or blocked,
        session_id=session_id,
        logout_token=logout_token,
        grants=grants,
        scopes=scopes,
    )
