import pytest
from markupsafe import escape

from apps.admin.manage import PLANNED, app
from auth.testing import product_client
from auth.tiers import Tier


def test_page_says_the_console_arrives_later():
    page = product_client(app).get("/").text

    assert "The admin console arrives in a later release." in page


def test_page_lists_every_planned_feature():
    page = product_client(app).get("/").text

    for item in PLANNED:
        assert f"<li>{escape(item)}</li>" in page


def test_product_client_refuses_a_user_below_the_product_tier():
    with pytest.raises(ValueError, match="Gate answers 403"):
        product_client(app, tier=Tier.DEVEL)
