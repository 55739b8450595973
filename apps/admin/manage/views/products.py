"""Every product discovery found, whether it is served (for a process product: whether its
process is up, with its last output when it failed), and how many users can open it."""

from __future__ import annotations

from flask import Blueprint, render_template

from apps.admin.manage.context import services
from apps.admin.manage.details import product_reach
from kit import TIERS_DESCENDING

blueprint = Blueprint("products", __name__)


@blueprint.get("/products")
def index() -> str:
    current = services()
    listing = current.products()
    with current.database.transaction() as db:
        reach = product_reach(db, listing.products)
    return render_template(
        "manage/products.html",
        products=listing.products,
        reach=reach,
        ignored=listing.ignored,
        removed=listing.removed,
        tier_roles=current.tier_roles,
        tiers=TIERS_DESCENDING,
    )
