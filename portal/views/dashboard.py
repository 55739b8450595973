"""The dashboard and `/api/me`: the products a person's tier (and grants) open, by tier, with
the entry points of each that they may open.

Products are not routed here; DispatcherMiddleware sends `/<tier>/<name>/...` to each product's
Gate before the portal app sees the request. What is listed follows the Gate's rules (stricter
sub-paths, paths the deployment removed), so nothing listed answers 403 or 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify

from auth.product_paths import EntryPoint, blocks_for, removed_at
from auth.tiers import TIERS_DESCENDING, Tier
from auth.users import Identity
from kit.openapi import ErrorAnswer
from portal.api_description import PORTAL_API, Me, SignInFirst
from portal.products.discovery import Product, Status
from portal.views import rendering, services

dashboard = Blueprint("dashboard", __name__)


@dataclass(frozen=True)
class Entry:
    """An entry point as one person sees it: where it links and the tier it needs."""

    point: EntryPoint
    url: str
    tier: Tier


@dataclass(frozen=True)
class Card:
    product: Product
    #: The declared entry points this person may open; empty when the product declares none
    #: (its root is then its one entry point, and the card itself links there).
    entries: tuple[Entry, ...]


def _card(who: Identity, product: Product) -> Card | None:
    """The product's card for this person, or None when nothing of it is theirs to open."""
    info = product.info
    blocks = blocks_for(info.key, services().settings.blocked_paths)
    if removed_at(blocks, "/") or not who.opens(info):
        return None
    if not info.entry_points:
        return Card(product, ())
    url = services().settings.origins.product_url
    needed = {point: info.tier_at(point.path) for point in info.entry_points}
    entries = tuple(
        Entry(point, url(info.key, point.path), tier)
        for point, tier in needed.items()
        if not removed_at(blocks, point.path) and who.opens(info, tier)
    )
    return Card(product, entries) if entries else None


def visible_products(who: Identity) -> list[tuple[Tier, list[Card]]]:
    """Products the user may open (by tier or by grant), grouped by tier; broken ones only for
    devel and admin users, who can do something about them."""
    sees_broken = who.user.tier.opens(Tier.DEVEL)
    groups = []
    for group_tier in TIERS_DESCENDING:
        shown = (
            p
            for p in services().discovery.products
            if p.info.tier is group_tier
            and (p.status is Status.LOADED or (p.status is Status.BROKEN and sees_broken))
        )
        cards = [card for card in (_card(who, p) for p in shown) if card is not None]
        if cards:
            groups.append((group_tier, cards))
    return groups


def _entry_points_json(card: Card, url: str) -> list[dict[str, str]]:
    info = card.product.info
    listed = [(e.point, e.url, e.tier) for e in card.entries]
    points = listed or [(EntryPoint("/", info.title), url, info.tier)]
    return [
        {
            "path": point.path,
            "title": point.title,
            "description": point.description,
            "url": link,
            "tier": tier.value,
        }
        for point, link, tier in points
    ]


@dashboard.get("/")
def index() -> object:
    who = rendering.identity()
    if who is None:
        dev_users = current_app.extensions.get("portal.dev_users", [])
        return rendering.page("portal/signin.html", login_url="/login", dev_users=dev_users)
    return rendering.page(
        "portal/dashboard.html",
        groups=visible_products(who),
        show_errors=who.user.tier.opens(Tier.DEVEL),
    )


@dashboard.get("/api/me")
@PORTAL_API.describe(responses={200: Me, 401: SignInFirst, 403: ErrorAnswer}, tags=["you"])
def api_me() -> object:
    """The signed-in user and the products they may open."""
    who = rendering.identity()
    if who is None:
        return jsonify(error="unauthenticated", message="Sign in first.", login_url="/login"), 401
    origins = services().settings.origins
    products = []
    for _tier, cards in visible_products(who):
        for card in cards:
            info, url = card.product.info, origins.product_url(card.product.info.key)
            products.append(
                {
                    "tier": info.tier.value,
                    "name": info.name,
                    "title": info.title,
                    "url": url,
                    "status": card.product.status.value,
                    "entry_points": _entry_points_json(card, url),
                }
            )
    return jsonify(user=who.user.to_json(), tier=who.user.tier.value, products=products)
