"""Products get tokens for the API they declare, never one that opens the portal or its admin API.

A product of any tier sees the signed-in user's requests, so whatever `current_user.access_token()`
hands it, and whatever reaches it in the environ, is in the hands of the lowest-tier product an
admin visits. The portal's own API audience opens every product mount and, with the admin scope,
the admin console; products get neither.
"""

import shutil
import textwrap
import time

import jwt
import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from db.models import User
from portal.cli import main
from portal.config import PROJECT_ROOT
from portal.products.discovery import Status
from tests.support.live import private_site
from tests.support.signin import session_id_of, sign_in

pytestmark = pytest.mark.site

ACCESS_TTL = 4
FORECAST_API = "https://forecast.example.org/api"
BILLING_API = "https://billing.example.org/api"
USERS_API = "/admin/manage/api/users"

TOKEN_PRODUCT = """
import jwt
from flask import jsonify

from kit import AuthFlask, current_user

app = AuthFlask(__name__)


@app.get("/token")
def token():
    token = current_user.access_token()
    return jsonify(token=token, claims=jwt.decode(token, options={"verify_signature": False}))
"""

ECHO_PRODUCT = """
from flask import Flask, jsonify, request

from auth.identity import USER_ENVIRON_KEY

app = Flask(__name__)


@app.get("/environ")
def environ():
    return jsonify(
        authorization=request.headers.get("Authorization"),
        keys=sorted(key for key in request.environ if key.startswith("HTTP_")),
        subject=request.environ[USER_ENVIRON_KEY].subject,
    )
"""

PRODUCTS = {
    "leak": (TOKEN_PRODUCT, None),
    "forecastclient": (TOKEN_PRODUCT, f'audience = "{FORECAST_API}"\nscope = "read:forecast"\n'),
    "billingclient": (TOKEN_PRODUCT, f'audience = "{BILLING_API}"\n'),
    "sneaky": (TOKEN_PRODUCT, 'audience = "portal-api"\n'),
    "echo": (ECHO_PRODUCT, None),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    for name, (code, metadata) in PRODUCTS.items():
        folder = apps / "stable" / name
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text(textwrap.dedent(code))
        if metadata:
            (folder / "product.toml").write_text(metadata)
    shutil.copytree(PROJECT_ROOT / "apps" / "admin" / "manage", apps / "admin" / "manage")
    with private_site(tmp_path_factory, apps_dir=apps, dev_idp_access_token_ttl=ACCESS_TTL) as live:
        yield live


def product_token(site, http, product="forecastclient", **options):
    return http.get(f"{site.base_url}/stable/{product}/token", timeout=60, **options)


def refreshes(site):
    return site.devidp.token_requests.get("refresh_token", 0)


def session_tokens(site, http):
    """What the session row holds, opened with the portal's own key (as only the portal can)."""
    raw_id = session_id_of(site, http)
    return site.services.tokens.tokens(raw_id)


def bearer(token):
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def users_table(site):
    with site.services.database.transaction() as db:
        return db.execute(select(User.subject, User.tier, User.blocked).order_by(User.id)).all()


def cli_token(site, *args):
    """`portal token ...` as an operator runs it beside this portal (same instance and secret)."""
    settings = site.settings
    env = {
        "PORTAL_BASE_URL": site.base_url,
        "PORTAL_INSTANCE_PATH": str(settings.instance_path),
        "DEV_IDP_DATABASE_URL": settings.dev_idp_database_url,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
    }
    result = CliRunner().invoke(main, ["token", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def wait_for_expiry(claims):
    time.sleep(max(0.0, claims["exp"] - time.time()) + 0.2)


# --- The measured attack: a stable product visited by an admin --------------------------------


def test_a_product_that_declares_no_audience_gets_no_token_and_says_how_to_declare_one(site):
    admin = sign_in(site.base_url, "admin")
    answer = product_token(site, admin, "leak")
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "token_unavailable",
        "message": "No access token for this request: stable/leak declares no API audience; "
        'add audience = "<the API\'s identifier>" (and scope = "...", if it needs '
        "permissions) to its product.toml.",
    }


def test_no_token_an_admins_session_holds_opens_the_admin_api(site):
    admin = sign_in(site.base_url, "admin")
    product = product_token(site, admin).json()["token"]
    sign_in_token = session_tokens(site, admin).access_token
    before = users_table(site)

    listing = requests.get(site.base_url + USERS_API, headers=bearer(sign_in_token), timeout=10)
    change = requests.post(
        f"{site.base_url}{USERS_API}/auth0%7Cdemo-stable/tier",
        json={"tier": "admin"},
        headers=bearer(sign_in_token),
        timeout=10,
    )
    with_product_token = requests.get(
        site.base_url + USERS_API, headers=bearer(product), timeout=10
    )

    refusal = {
        "error": "insufficient_scope",
        "message": "The admin API needs an access token with the portal:admin scope, which "
        "sign-in never asks for: ask the identity provider for it (`portal token admin` in "
        "development).",
        "required_scope": "portal:admin",
    }
    assert (listing.status_code, listing.json()) == (403, refusal)
    assert listing.headers["WWW-Authenticate"] == (
        'Bearer realm="portal", error="insufficient_scope", scope="portal:admin"'
    )
    assert (change.status_code, change.json()) == (403, refusal)
    assert with_product_token.status_code == 401
    assert with_product_token.json()["message"] == (
        "Access token refused: the token is for another audience."
    )
    assert users_table(site) == before


def test_an_admins_sign_in_token_still_opens_products_below_admin(site):
    admin = sign_in(site.base_url, "admin")
    token = session_tokens(site, admin).access_token
    answer = requests.get(f"{site.base_url}/stable/echo/environ", headers=bearer(token), timeout=10)
    assert (answer.status_code, answer.json()["subject"]) == (200, "auth0|demo-admin")


# --- The admin scope: asked for on purpose, granted only to admins ----------------------------


def test_portal_token_admin_carries_the_admin_scope_and_opens_the_admin_api(site):
    token = cli_token(site, "admin")
    answer = requests.get(site.base_url + USERS_API, headers=bearer(token), timeout=10)
    assert claims_of(token)["scope"].split() == ["openid", "profile", "email", "portal:admin"]
    assert answer.status_code == 200
    assert "auth0|demo-stable" in {user["subject"] for user in answer.json()["users"]}


def test_portal_token_admin_with_a_narrower_scope_does_not_open_the_admin_api(site):
    token = cli_token(site, "admin", "--scope", "openid email")
    answer = requests.get(site.base_url + USERS_API, headers=bearer(token), timeout=10)
    assert claims_of(token)["scope"] == "openid email"
    assert (answer.status_code, answer.json()["error"]) == (403, "insufficient_scope")


def test_a_non_admin_asking_for_the_admin_scope_does_not_get_it(site):
    token = cli_token(site, "devel", "--scope", "openid portal:admin")
    assert claims_of(token)["scope"] == "openid"
    answer = requests.get(site.base_url + USERS_API, headers=bearer(token), timeout=10)
    assert answer.status_code == 403


# --- Products get tokens for their own audience ------------------------------------------------


def test_a_product_gets_a_token_for_exactly_the_audience_and_scope_it_declares(site):
    http = sign_in(site.base_url, "ea")
    claims = product_token(site, http).json()["claims"]
    assert (claims["aud"], claims["scope"], claims["sub"]) == (
        FORECAST_API,
        "read:forecast",
        "auth0|demo-ea",
    )


def test_a_products_token_is_refused_by_the_portals_own_gate(site):
    http = sign_in(site.base_url, "devel")
    token = product_token(site, http).json()["token"]
    answer = requests.get(f"{site.base_url}/stable/echo/environ", headers=bearer(token), timeout=10)
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "invalid_token",
        "message": "Access token refused: the token is for another audience.",
    }


def test_a_products_token_is_kept_in_the_session_until_near_expiry(site):
    http = sign_in(site.base_url, "ea")
    before = refreshes(site)
    first = product_token(site, http).json()["claims"]
    second = product_token(site, http).json()["claims"]
    assert second["jti"] == first["jti"]
    assert refreshes(site) == before + 1


def test_two_products_share_the_sessions_rotating_refresh_token_across_expiries(site):
    http = sign_in(site.base_url, "ea")
    seen = []
    for _ in range(2):
        forecast = product_token(site, http, "forecastclient")
        billing = product_token(site, http, "billingclient")
        seen.append((forecast.status_code, forecast.json()["claims"]["aud"]))
        seen.append((billing.status_code, billing.json()["claims"]["aud"]))
        wait_for_expiry(billing.json()["claims"])
    assert seen == [(200, FORECAST_API), (200, BILLING_API)] * 2


def test_a_product_declaring_the_portals_own_api_is_refused_at_load(site):
    product = next(p for p in site.services.discovery.products if p.info.key == "stable/sneaky")
    admin = sign_in(site.base_url, "admin")
    assert (product.status, product.error) == (
        Status.BROKEN,
        "product.toml: audience 'portal-api' is reserved to the portal (its own API, or its "
        "identity provider's Management API); a product may declare only an API of its own",
    )
    assert admin.get(f"{site.base_url}/stable/sneaky/token", timeout=10).status_code == 503


# --- Requests that came with a bearer token -----------------------------------------------------


def test_the_product_never_sees_the_callers_authorization_header(site):
    token = site.devidp.access_token_for("devel@example.com")
    answer = requests.get(f"{site.base_url}/stable/echo/environ", headers=bearer(token), timeout=10)
    body = answer.json()
    assert (answer.status_code, body["subject"], body["authorization"]) == (
        200,
        "auth0|demo-devel",
        None,
    )
    assert "HTTP_AUTHORIZATION" not in body["keys"]


def test_a_bearer_request_gets_no_product_token_and_is_told_why(site):
    token = site.devidp.access_token_for("devel@example.com")
    answer = requests.get(
        f"{site.base_url}/stable/forecastclient/token", headers=bearer(token), timeout=10
    )
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "token_unavailable",
        "message": "No access token for this request: it came with a bearer token, and the "
        "portal gets product tokens only from a browser sign-in; a script asks the identity "
        "provider for a token for the product's API itself.",
    }
