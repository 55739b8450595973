"""Which of the identity provider's role (or group) names stand for which tier.

A tenant's roles are named by whoever set it up: `Portal Admins`, `researchers-ea`, a group from
an enterprise connection. The portal reads them in three places (the roles claim at sign-in, the
directory sync, the bearer tokens of scripts) and writes them in one (an admin changing a tier),
so the mapping is one value that all four are given. By default every tier is its own role name.

The setting's syntax (`PORTAL_TIER_ROLES`) is ``tier=name,name;tier=name``: `;` between tiers,
`,` between the names of one tier, spaces inside a name kept and around it ignored::

    PORTAL_TIER_ROLES="admin=Portal Admins;devel=researchers-devel;ea=researchers-ea,beta testers"

The first name of a tier is the role the portal assigns when an admin gives someone that tier;
any of its names grants it. A tier the setting leaves out has no role: nobody gets it from the
identity provider. `stable` needs none, since it is every signed-in user's tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from auth.tiers import TIERS_DESCENDING, Tier


@dataclass(frozen=True)
class TierRoles:
    """Role names per tier, in the order given: the first is the one assigned."""

    names: Mapping[Tier, tuple[str, ...]]

    def tier_of(self, roles: Iterable[object]) -> Tier:
        """The highest tier any of ``roles`` stands for; ``stable`` when none does. Names are
        compared exactly, as the identity provider spells them."""
        held = {role for role in roles if isinstance(role, str)}
        for tier in TIERS_DESCENDING:
            if held.intersection(self.names.get(tier, ())):
                return tier
        return Tier.STABLE

    def assigned_role(self, tier: Tier) -> str | None:
        """The role that gives ``tier``; None for stable or a tier no role stands for."""
        names = self.names.get(tier, ())
        return names[0] if names else None

    @property
    def role_names(self) -> tuple[str, ...]:
        """Every name that stands for a tier, highest tier first."""
        return tuple(name for tier in TIERS_DESCENDING for name in self.names.get(tier, ()))

    def describe(self) -> str:
        """The mapping in the setting's own syntax, as the admin console shows it."""
        return ";".join(
            f"{tier.value}={','.join(self.names[tier])}"
            for tier in TIERS_DESCENDING
            if self.names.get(tier)
        )

    @classmethod
    def parse(cls, text: str) -> TierRoles:
        """The mapping ``text`` writes; blank is the default. ValueError says what is wrong."""
        if not text.strip():
            return DEFAULT_TIER_ROLES
        names: dict[Tier, tuple[str, ...]] = {}
        owner: dict[str, Tier] = {}
        for part in (p.strip() for p in text.split(";")):
            if not part:
                continue
            tier_name, equals, listed = part.partition("=")
            if not equals:
                raise ValueError(f"{part!r} is not tier=role[,role...]")
            tier = Tier.parse(tier_name.strip())
            if tier is Tier.STABLE:
                raise ValueError("stable needs no role: it is every signed-in user's tier")
            if tier in names:
                raise ValueError(f"{tier.value} is given twice")
            roles = tuple(name.strip() for name in listed.split(","))
            if not all(roles):
                raise ValueError(f"{tier.value} has an empty role name")
            for role in roles:
                other = owner.setdefault(role, tier)
                if other is not tier:
                    raise ValueError(f"{role!r} stands for both {other.value} and {tier.value}")
            names[tier] = roles
        return cls(names)


DEFAULT_TIER_ROLES = TierRoles({tier: (tier.value,) for tier in Tier if tier is not Tier.STABLE})
