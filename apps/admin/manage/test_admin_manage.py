"""The console on its own, without the portal: what needs no database."""

import pytest

from apps.admin.manage import create_app
from apps.admin.manage.audit_log import _cell
from apps.admin.manage.errors import ConsoleError
from apps.admin.manage.listing import UserFilter, decode_cursor
from kit import Tier
from kit.testing import product_client


def test_without_the_portals_services_it_says_so_with_503():
    answer = product_client(create_app()).get("/")
    assert answer.status_code == 503
    assert "The admin console needs the portal&#39;s services" in answer.text


def test_the_api_says_so_in_json():
    answer = product_client(create_app()).get("/api/users")
    assert (answer.status_code, answer.json["error"]) == (503, "unavailable")


def test_product_client_refuses_a_user_below_the_product_tier():
    with pytest.raises(ValueError, match="Gate answers 403"):
        product_client(create_app(), tier=Tier.DEVEL)


@pytest.mark.parametrize("value", ["=HYPERLINK(1)", "+1", "-1", "@SUM(A1)"])
def test_csv_cells_that_look_like_formulas_stay_text(value):
    assert _cell(value) == "'" + value


def test_a_filter_keeps_only_what_differs_from_the_defaults_in_links():
    chosen = UserFilter.from_args({"q": "ada", "tier": "ea", "deleted": "no"})
    assert chosen.query_args(start=50) == {"q": "ada", "tier": "ea", "start": 50}


@pytest.mark.parametrize("cursor", ["", "!!!", "WyJhIl0", "WzEsMl0"])
def test_a_damaged_cursor_is_a_422(cursor):
    with pytest.raises(ConsoleError) as refused:
        decode_cursor(cursor, "email")
    assert refused.value.status == 422
