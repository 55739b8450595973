"""The portal's page frame: `portal/base.html` and the variables it reads.

Every page of the site wears it (the portal's own pages, the Gate's refusals, products built on
AuthFlask), so they all show the same header: who is signed in, their tier, the product, and the
sign-out button. The template lives here, with the kit products import, and the portal reads it
from here too.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

from auth.identity import PortalUser, ProductInfo

FRAME_TEMPLATES = Path(__file__).resolve().parent / "templates"
"""The folder holding `portal/base.html`."""
frame = Blueprint("portal_frame", __name__, template_folder="templates")
"""Registered on the portal's own Flask app, so its pages find `portal/base.html` here too."""


def frame_context(
    *,
    user: PortalUser | None,
    product: ProductInfo | None,
    logout_token: str | None,
    site_name: str,
    portal_url: str = "",
) -> dict[str, object]:
    """The variables `portal/base.html` reads, for the portal, the Gate's pages and products.
    `portal_url` is the portal's origin when pages are served from other hosts (host mode):
    the header's links point there."""
    return {
        "portal_user": user,
        "portal_product": product,
        "portal_logout_token": logout_token,
        "portal_name": site_name,
        "portal_url": portal_url,
    }
