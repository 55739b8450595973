"""Access tiers, ordered: admin > devel > ea > stable.

The folder a product sits in is its tier, and a user's tier opens every product at or below it.
Keeping the order in one place means the Gate, the dashboard and the login code can never
disagree about who may open what.
"""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    STABLE = "stable"
    EA = "ea"
    DEVEL = "devel"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def opens(self, required: Tier) -> bool:
        """True when a user of this tier may open a product of tier ``required``."""
        return self.rank >= required.rank

    @property
    def label(self) -> str:
        return _LABELS[self]

    @classmethod
    def parse(cls, value: str) -> Tier:
        """The tier named exactly ``value`` (folder names are case-sensitive, so is this)."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"unknown tier {value!r}; tiers are {', '.join(TIER_NAMES)}") from None


_RANKS = {Tier.STABLE: 0, Tier.EA: 1, Tier.DEVEL: 2, Tier.ADMIN: 3}
_LABELS = {
    Tier.STABLE: "Stable",
    Tier.EA: "Early access",
    Tier.DEVEL: "Development",
    Tier.ADMIN: "Admin",
}
_BY_NAME = {tier.value: tier for tier in Tier}

#: Highest first, the order the dashboard lists tiers in.
TIERS_DESCENDING: tuple[Tier, ...] = tuple(sorted(Tier, key=lambda t: -t.rank))
TIER_NAMES: tuple[str, ...] = tuple(t.value for t in TIERS_DESCENDING)
