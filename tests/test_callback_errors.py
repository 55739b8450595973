"""Every way the sign-in callback can be wrong is a 400 page, never a 500.

The identity provider's own words (`error_description`) may carry anything, so the page shows a
fixed sentence and only the log has them.
"""

import logging
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.support.signin import open_login_form

pytestmark = pytest.mark.site


def started_sign_in(portal) -> tuple[requests.Session, str]:
    """A browser that went to /login and was sent to the provider: its session and the state."""
    http, _action, _fields = open_login_form(portal.base_url)
    authorize = http.get(portal.base_url + "/login", allow_redirects=False, timeout=10).headers[
        "Location"
    ]
    return http, parse_qs(urlsplit(authorize).query)["state"][0]


def callback(portal, http, **params) -> requests.Response:
    return http.get(
        f"{portal.base_url}/callback?{urlencode(params)}", allow_redirects=False, timeout=10
    )


def test_a_callback_without_a_code_is_a_400_page(portal):
    http, state = started_sign_in(portal)
    answer = callback(portal, http, state=state)
    assert answer.status_code == 400
    assert '<h1 id="error-heading">Sign-in failed</h1>' in answer.text
    assert "This sign-in link has expired or was already used." in answer.text
    assert 'href="/login">Try signing in again</a>' in answer.text


@pytest.mark.parametrize("error", ["server_error", "temporarily_unavailable", "login_required"])
def test_an_error_from_the_provider_is_a_400_page_with_a_fixed_message(portal, caplog, error):
    http, state = started_sign_in(portal)
    description = "<script>alert('owned')</script> tenant misconfigured: rule 42 failed"
    with caplog.at_level(logging.WARNING, logger="portal.views.signin"):
        answer = callback(portal, http, state=state, error=error, error_description=description)
    assert answer.status_code == 400
    assert "The identity provider could not sign you in." in answer.text
    assert "rule 42" not in answer.text
    assert "alert(" not in answer.text
    assert any("rule 42 failed" in record.getMessage() for record in caplog.records)


def test_an_error_from_the_provider_answers_an_api_client_in_json(portal):
    http, state = started_sign_in(portal)
    answer = http.get(
        f"{portal.base_url}/callback?"
        + urlencode({"state": state, "error": "server_error", "error_description": "rule 42"}),
        headers={"Accept": "application/json"},
        allow_redirects=False,
        timeout=10,
    )
    assert (answer.status_code, answer.json()) == (
        400,
        {
            "error": "Sign-in failed",
            "message": "The identity provider could not sign you in. Start again from the "
            "sign-in page; if it keeps happening, tell an administrator the time it happened.",
        },
    )
