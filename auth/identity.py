"""What a product learns about the person making a request.

The Gate puts a :class:`PortalUser` in the WSGI environ under :data:`USER_ENVIRON_KEY`, the
product's own description under :data:`PRODUCT_ENVIRON_KEY` and the sign-out form's token under
:data:`LOGOUT_TOKEN_ENVIRON_KEY`. Nothing else carries identity: not
request headers, which any client can send.
"""

from __future__ import annotations

from dataclasses import dataclass

from auth.tiers import Tier

USER_ENVIRON_KEY = "portal.user"
PRODUCT_ENVIRON_KEY = "portal.product"
LOGOUT_TOKEN_ENVIRON_KEY = "portal.logout_token"  # noqa: S105 - an environ key, not a secret


@dataclass(frozen=True)
class PortalUser:
    id: int
    subject: str
    email: str
    name: str
    tier: Tier

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.subject

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "subject": self.subject,
            "email": self.email,
            "name": self.name,
            "tier": self.tier.value,
        }


@dataclass(frozen=True)
class ProductInfo:
    """A product as the portal knows it, handed to the product so it can name itself."""

    tier: Tier
    name: str
    title: str
    description: str = ""
    version: str = ""

    @property
    def mount_path(self) -> str:
        return f"/{self.tier.value}/{self.name}"

    @property
    def key(self) -> str:
        return f"{self.tier.value}/{self.name}"
