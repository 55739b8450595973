"""Sign-in, sign-out and sessions through the real stack and the development provider."""

import secrets
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select, update

from auth.sessions import session_key
from db.models import Session, User, utcnow
from tests.support.signin import open_login_form, session_id_of, sign_in

pytestmark = pytest.mark.site


def new_provider_user(portal, roles, name="Tess Tester"):
    email = f"user-{secrets.token_hex(4)}@example.org"
    subject = portal.idp_store.add_user(email, "pw-123456", roles, name)
    return email, subject


def user_row(portal, email):
    with portal.services.database.transaction() as db:
        return db.scalars(select(User).where(User.email == email)).one()


def raw_session_id(portal, http):
    return session_id_of(portal, http)


def callback_url(portal, email, password, next_path="/"):
    """Go through the provider's form but stop before the portal's callback runs."""
    http, action, fields = open_login_form(portal.base_url, next_path)
    fields.update(email=email, password=password, sign_in="Sign in")
    answer = http.post(action, data=fields, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return http, answer.headers["Location"]


def logout_token(portal, http):
    page = http.get(portal.base_url + "/", timeout=10).text
    marker = 'name="token" value="'
    return page[page.index(marker) + len(marker) :].split('"', 1)[0]


def test_sign_in_records_the_user_from_the_token(portal):
    sign_in(portal.base_url, "devel")
    row = user_row(portal, "devel@example.com")
    assert (row.subject, row.name, row.tier, row.roles) == (
        "auth0|demo-devel",
        "Dev Developer",
        "devel",
        ["devel"],
    )
    assert row.last_login_at is not None


def test_a_user_without_tier_roles_is_stable(portal):
    email, _ = new_provider_user(portal, ["reviewer"])
    sign_in(portal.base_url, email, "pw-123456")
    assert user_row(portal, email).tier == "stable"


def test_a_role_change_at_the_provider_applies_at_the_next_sign_in(portal):
    email, subject = new_provider_user(portal, ["ea"])
    sign_in(portal.base_url, email, "pw-123456")
    portal.idp_store.set_roles(subject, ["devel"])
    http = sign_in(portal.base_url, email, "pw-123456")
    assert user_row(portal, email).tier == "devel"
    assert http.get(portal.base_url + "/devel/inspector/", timeout=10).status_code == 200


def test_signing_in_replaces_the_pre_login_session_id(portal):
    http, action, fields = open_login_form(portal.base_url)
    before = http.cookies["portal_session"]
    fields.update(email="ea@example.com", password="ea", sign_in="Sign in")
    http.post(action, data=fields, timeout=10)
    assert http.cookies["portal_session"] != before
    fresh = requests.get(
        portal.base_url + "/api/me", cookies={"portal_session": before}, timeout=10
    )
    assert fresh.status_code == 401


def test_the_session_cookie_is_opaque_http_only_and_lax(portal):
    http, url = callback_url(portal, "ea@example.com", "ea")
    answer = http.get(url, allow_redirects=False, timeout=10)
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("portal_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    value = http.cookies["portal_session"]
    assert len(value) < 128  # the session id, the host it is bound to, a signature: no data
    assert "eyJ" not in value


def test_next_pointing_to_another_site_lands_on_the_dashboard(portal):
    http, url = callback_url(portal, "ea@example.com", "ea", next_path="//evil.example/")
    answer = http.get(url, allow_redirects=False, timeout=10)
    assert answer.headers["Location"] == "/"


def test_cancelling_at_the_provider_shows_a_page_with_a_retry_link(portal):
    http, action, fields = open_login_form(portal.base_url)
    fields.update(cancel="Cancel")
    page = http.post(action, data=fields, timeout=10)
    assert page.status_code == 400
    assert "You cancelled the sign-in or the identity provider refused it." in page.text
    assert 'href="/login">Try signing in again</a>' in page.text


def test_a_replayed_callback_is_refused(portal):
    http, url = callback_url(portal, "ea@example.com", "ea")
    assert http.get(url, allow_redirects=False, timeout=10).status_code == 302
    replay = http.get(url, allow_redirects=False, timeout=10)
    assert replay.status_code == 400
    assert "Sign-in failed" in replay.text


def test_a_code_used_from_another_browser_is_refused(portal):
    _victim, url = callback_url(portal, "ea@example.com", "ea")
    attacker = requests.get(url, allow_redirects=False, timeout=10)
    assert attacker.status_code == 400
    assert "expired or was already used" in attacker.text


def test_a_callback_with_a_forged_state_is_refused(portal):
    http, url = callback_url(portal, "ea@example.com", "ea")
    query = parse_qs(urlsplit(url).query)
    forged = f"{portal.base_url}/callback?code={query['code'][0]}&state=forged"
    answer = http.get(forged, allow_redirects=False, timeout=10)
    assert answer.status_code == 400
    assert "expired or was already used" in answer.text


def test_an_id_token_signed_with_another_key_is_refused(portal):
    from joserfc.jwk import RSAKey

    client = portal.application.extensions["authlib.integrations.flask_client"].idp
    client.load_server_metadata()
    genuine = client.fetch_jwk_set()
    impostor = RSAKey.generate_key(2048).as_dict(private=False)
    forged = {
        "keys": [
            {**impostor, "kid": key["kid"], "alg": "RS256", "use": "sig"} for key in genuine["keys"]
        ]
    }
    http, url = callback_url(portal, "ea@example.com", "ea")
    client.server_metadata["jwks"] = forged
    try:
        answer = http.get(url, allow_redirects=False, timeout=10)
    finally:
        client.server_metadata["jwks"] = genuine
    assert answer.status_code == 400
    assert "Sign-in failed" in answer.text
    assert http.get(portal.base_url + "/api/me", timeout=10).status_code == 401


def test_the_sign_out_page_asks_for_confirmation(portal):
    http = sign_in(portal.base_url, "ea")
    page = http.get(portal.base_url + "/logout", timeout=10)
    assert page.status_code == 200
    assert '<form method="post" action="/logout"' in page.text
    assert http.get(portal.base_url + "/ea/forecast/", timeout=10).status_code == 200


def test_a_bare_callback_is_a_readable_400(portal):
    answer = requests.get(portal.base_url + "/callback", timeout=10)
    assert answer.status_code == 400
    assert "Traceback" not in answer.text
    assert "Try signing in again" in answer.text


def test_sign_out_ends_the_session_here_and_at_the_provider(portal):
    http = sign_in(portal.base_url, "ea")
    old_cookie = http.cookies["portal_session"]
    answer = http.post(
        portal.base_url + "/logout",
        data={"token": logout_token(portal, http)},
        allow_redirects=False,
        timeout=10,
    )
    location = urlsplit(answer.headers["Location"])
    query = parse_qs(location.query)
    assert (answer.status_code, location.path) == (302, "/idp/oidc/logout")
    assert query["post_logout_redirect_uri"] == [portal.base_url + "/"]
    assert query["id_token_hint"][0].startswith("eyJ")
    assert "portal_session=;" in answer.headers["Set-Cookie"]
    home = http.get(answer.headers["Location"], timeout=10)
    assert home.url == portal.base_url + "/"
    reuse = requests.get(
        portal.base_url + "/ea/forecast/",
        cookies={"portal_session": old_cookie},
        allow_redirects=False,
        timeout=10,
    )
    assert reuse.status_code == 302


def test_sign_out_works_from_the_forbidden_page(portal):
    http = sign_in(portal.base_url, "stable")
    forbidden = http.get(portal.base_url + "/admin/manage/", timeout=10)
    assert forbidden.status_code == 403
    marker = 'name="token" value="'
    token = forbidden.text[forbidden.text.index(marker) + len(marker) :].split('"', 1)[0]
    answer = http.post(
        portal.base_url + "/logout", data={"token": token}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302


def test_sign_out_without_the_form_token_is_refused_and_keeps_the_session(portal):
    http = sign_in(portal.base_url, "ea")
    answer = http.post(portal.base_url + "/logout", data={"token": "forged"}, timeout=10)
    assert answer.status_code == 400
    assert http.get(portal.base_url + "/ea/forecast/", timeout=10).status_code == 200


def age_session(portal, http, **values):
    raw = raw_session_id(portal, http)
    with portal.services.database.transaction() as db:
        db.execute(update(Session).where(Session.id == session_key(raw)).values(**values))
    portal.services.resolver.forget(raw)


def test_an_idle_session_ends(portal):
    http = sign_in(portal.base_url, "ea")
    idle = timedelta(minutes=portal.settings.session_idle_minutes)
    age_session(portal, http, last_seen_at=utcnow() - idle - timedelta(seconds=1))
    answer = http.get(portal.base_url + "/ea/forecast/", allow_redirects=False, timeout=10)
    assert answer.status_code == 302


def test_a_session_past_its_absolute_lifetime_ends(portal):
    http = sign_in(portal.base_url, "ea")
    age_session(portal, http, expires_at=utcnow() - timedelta(seconds=1))
    answer = http.get(portal.base_url + "/ea/forecast/", allow_redirects=False, timeout=10)
    assert answer.status_code == 302


def test_a_session_in_use_is_still_valid(portal):
    http = sign_in(portal.base_url, "ea")
    age_session(portal, http, last_seen_at=utcnow() - timedelta(minutes=5))
    answer = http.get(portal.base_url + "/ea/forecast/", allow_redirects=False, timeout=10)
    assert answer.status_code == 200


def set_user(portal, email, **values):
    with portal.services.database.transaction() as db:
        db.execute(update(User).where(User.email == email).values(**values))


def test_a_blocked_user_is_refused_and_their_session_ended(portal):
    email, _ = new_provider_user(portal, ["ea"])
    http = sign_in(portal.base_url, email, "pw-123456")
    set_user(portal, email, blocked=True)
    portal.services.resolver.forget(raw_session_id(portal, http))
    refused = http.get(portal.base_url + "/ea/forecast/", allow_redirects=False, timeout=10)
    assert refused.status_code == 403
    assert "Your account is blocked." in refused.text
    set_user(portal, email, blocked=False)
    after = http.get(portal.base_url + "/ea/forecast/", allow_redirects=False, timeout=10)
    assert after.status_code == 302


def test_a_blocked_user_cannot_sign_in(portal):
    email, _ = new_provider_user(portal, ["ea"])
    sign_in(portal.base_url, email, "pw-123456")
    set_user(portal, email, blocked=True)
    http, url = callback_url(portal, email, "pw-123456")
    answer = http.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 403
    assert "Your account is blocked or was removed." in answer.text


def test_a_lowered_tier_applies_once_the_identity_cache_expires(portal):
    email, _ = new_provider_user(portal, ["ea"])
    http = sign_in(portal.base_url, email, "pw-123456")
    assert http.get(portal.base_url + "/ea/forecast/", timeout=10).status_code == 200
    set_user(portal, email, tier="stable")
    deadline = time.monotonic() + portal.settings.identity_cache_seconds + 10
    status = 200
    while status == 200 and time.monotonic() < deadline:
        time.sleep(0.25)
        status = http.get(portal.base_url + "/ea/forecast/", timeout=10).status_code
    assert status == 403
