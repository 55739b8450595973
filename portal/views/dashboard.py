"""The dashboard and `/api/me`: the products a person's tier (and grants) open, by tier.

Products are not routed here; DispatcherMiddleware sends `/<tier>/<name>/...` to each product's
Gate before the portal app sees the request.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from auth.tiers import TIERS_DESCENDING, Tier
from auth.users import Identity
from portal.products.discovery import Product, Status
from portal.views import rendering, services

dashboard = Blueprint("dashboard", __name__)


def visible_products(who: Identity) -> list[tuple[Tier, list[Product]]]:
    """Products the user may open (by tier or by grant), grouped by tier; broken ones only for
    devel and admin users, who can do something about them."""
    sees_broken = who.user.tier.opens(Tier.DEVEL)
    groups = []
    for group_tier in TIERS_DESCENDING:
        cards = [
            p
            for p in services().discovery.products
            if p.info.tier is group_tier
            and who.opens(p.info)
            and (p.status is Status.LOADED or (p.status is Status.BROKEN and sees_broken))
        ]
        if cards:
            groups.append((group_tier, cards))
    return groups


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
def api_me() -> object:
    who = rendering.identity()
    if who is None:
        return jsonify(error="unauthenticated", message="Sign in first.", login_url="/login"), 401
    origins = services().settings.origins
    products = [
        {
            "tier": p.info.tier.value,
            "name": p.info.name,
            "title": p.info.title,
            "url": origins.product_url(p.info.key),
            "status": p.status.value,
        }
        for _tier, cards in visible_products(who)
        for p in cards
    ]
    return jsonify(user=who.user.to_json(), tier=who.user.tier.value, products=products)
