"""The portal's JSON API, described: the models its answers and bodies follow.

The views in `portal.views` name these models through `PORTAL_API.describe`; the document is
served at `/api/openapi.json` to signed-in admins (see `portal.views.api_docs`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, RootModel
from spectree import SecurityScheme
from spectree.models import SecuritySchemeData

from kit.openapi import SECURITY_SCHEMES, SESSION_ONLY, ErrorAnswer, JsonApi

PORTAL_API = JsonApi(
    "Portal API",
    "1.0.0",
    "Who the signed-in user is and what they may open, the portal's health, the identity "
    "provider's back-channel logout and the Auth0 webhook. The portal's own routes know people "
    "by their session cookie; bearer tokens open products (and the admin console's API).",
    signed_in=SESSION_ONLY,
    schemes=(
        *SECURITY_SCHEMES,
        SecurityScheme(
            name="webhook_secret",
            data=SecuritySchemeData(
                type="http",
                scheme="bearer",
                description="The shared secret PORTAL_WEBHOOK_SECRET, as a bearer token.",
            ),
        ),
    ),
)

TierName = Literal["admin", "devel", "ea", "stable"]
ProductStatus = Literal["loaded", "broken", "excluded"]


class SignInFirst(ErrorAnswer):
    """The request carries no signed-in user."""

    login_url: str = Field(description="where a browser signs in")


class PortalUserAnswer(BaseModel):
    id: int
    subject: str = Field(description="the identity provider's user id")
    email: str
    name: str
    tier: TierName


class EntryPointLink(BaseModel):
    """One service of a product this user may open (product.toml's `[[entry_points]]`; a product
    that lists none has its root as its one entry point)."""

    path: str = Field(description="inside the product, from its mount")
    title: str
    description: str
    url: str
    tier: TierName = Field(description="the tier it needs (a stricter sub-path's, or the folder's)")


class ProductLink(BaseModel):
    tier: TierName
    name: str
    title: str
    url: str = Field(description="the product's address (its own host in host mode)")
    status: ProductStatus
    entry_points: list[EntryPointLink]


class Me(BaseModel):
    """The signed-in user and every product their tier (or a grant) opens."""

    user: PortalUserAnswer
    tier: TierName
    products: list[ProductLink]


class JsonWebKey(BaseModel, extra="allow"):
    kty: Literal["RSA"]
    kid: str
    use: Literal["sig"]
    alg: Literal["RS256"]
    n: str
    e: str


class KeySet(BaseModel):
    """The public key that checks `X-Portal-Identity` tokens (RFC 7517)."""

    keys: list[JsonWebKey]


class Alive(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """Ready when the database and the identity provider answer; products and Redis are
    reported, not required. With `?product=tier/name`, ready only when that product serves
    too."""

    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description='each check: "ok" or what went wrong')
    products: dict[ProductStatus, int] = Field(description="how many products are in each state")
    degraded: dict[str, str] = Field(
        description="process products not serving now, by tier/name: their state "
        '("starting", "unhealthy", "restarting", "failed")'
    )
    accelerators: dict[str, str] = Field(description="what Redis is doing for this process")
    pending_changes: int | str = Field(
        description="admin changes made, or maybe made, in Auth0 and not yet settled in the "
        "table (`portal users reconcile`); text when they could not be counted in time"
    )
    product: str | None = Field(None, description="the product asked about, if one was")


class ReadinessQuery(BaseModel):
    product: str | None = Field(
        None, description="tier/name: answer 503 unless this product serves as well"
    )


class LogoutTokenForm(BaseModel):
    """OpenID Connect Back-Channel Logout: the identity provider posts a signed logout token."""

    logout_token: str = Field(description="a JWT naming the session (sid) or the user (sub)")


class OidcError(BaseModel):
    """A refusal in OAuth's shape, which identity providers read."""

    error: Literal["invalid_request", "temporarily_unavailable"]
    error_description: str


class OneUser(BaseModel):
    user_id: str = Field(max_length=255)


class SomeUsers(BaseModel):
    user_ids: list[str] = Field(max_length=100)


class LogEventData(BaseModel, extra="allow"):
    user_id: str = Field(max_length=255)


class LogEvent(BaseModel, extra="allow"):
    data: LogEventData


class WebhookBody(RootModel[OneUser | SomeUsers | list[LogEvent]]):
    """`{"user_id": ...}`, `{"user_ids": [...]}` or a Log Stream batch (a list of events whose
    `data.user_id` names a user); the users' data is re-read from Auth0, never taken from here."""


class WebhookResults(BaseModel):
    results: dict[str, Literal["created", "updated", "unchanged", "deleted"]]


class WebhookUnavailable(ErrorAnswer):
    results: dict[str, str] = Field(description="the users re-read before Auth0 failed")
