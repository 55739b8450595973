"""Host mode's handoff is bound to the browser that asked for it, as OAuth binds a code to its
`state`, and the portal host mints codes only for what the signed-in user may open now.

The attack it stops (login CSRF): a stable user asks the portal host for a code for a product
(without following it) and sends the product-host URL to an admin; the admin's browser spent it
and its session on that host became the stable user's.
"""

import hashlib
import re
import secrets
import shutil
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from auth.handoff import STATE_COOKIE_NAME
from auth.tiers import Tier
from db.audit import Source
from portal.config import PROJECT_ROOT
from tests.support.live import private_site
from tests.support.signin import sign_in

pytestmark = pytest.mark.site

HELLO = "stable/hello"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    for key in (HELLO, "stable/seistech", "admin/manage"):
        shutil.copytree(PROJECT_ROOT / "apps" / key, apps / key)
    with private_site(tmp_path_factory, apps_dir=apps, host_mode=True) as live:
        yield live


def digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def origin_of(site, key: str) -> str:
    return site.product_url(key).removesuffix(f"/{key}/")


def start(site, http, key, state=None, next_path=None, **params):
    query = {"product": key, "next": next_path or f"/{key}/", **params}
    if state is not None:
        query["state"] = digest(state)
    return http.get(
        site.base_url + "/_portal/handoff", params=query, allow_redirects=False, timeout=10
    )


def attackers_code_url(site, key: str = HELLO) -> str:
    """What the attacker sends the victim: a code they asked for with their own state."""
    attacker = sign_in(site.base_url, "stable")
    answer = start(site, attacker, key, secrets.token_urlsafe(32))
    assert answer.status_code == 302
    return answer.headers["Location"]


def test_the_gate_gives_the_browser_a_host_only_state_cookie_and_names_its_hash(site):
    answer = requests.get(site.product_url(HELLO), allow_redirects=False, timeout=10)
    cookie = answer.headers["Set-Cookie"]
    state = cookie.split(";", 1)[0].removeprefix(f"{STATE_COOKIE_NAME}=")
    assert answer.status_code == 302
    assert re.fullmatch(
        f"{STATE_COOKIE_NAME}={state}; Expires=[^;]+; Max-Age=600; HttpOnly; Path=/; SameSite=Lax",
        cookie,
    )
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["state"] == [digest(state)]


def test_a_browser_that_starts_twice_keeps_its_state_so_both_tabs_finish(site):
    state = secrets.token_urlsafe(32)
    answer = requests.get(
        site.product_url(HELLO),
        cookies={STATE_COOKIE_NAME: state},
        allow_redirects=False,
        timeout=10,
    )
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["state"] == [digest(state)]


@pytest.mark.parametrize(
    "cookies",
    [
        {},
        {STATE_COOKIE_NAME: secrets.token_urlsafe(32)},
        {STATE_COOKIE_NAME: ""},
        {STATE_COOKIE_NAME: "not a state"},
    ],
    ids=["no state cookie", "another browser's state", "empty state", "malformed state"],
)
def test_a_code_asked_for_by_another_browser_is_refused_and_sets_nothing(site, cookies):
    victim = sign_in(site.base_url, "admin")
    answer = victim.get(
        attackers_code_url(site), cookies=cookies, allow_redirects=False, timeout=10
    )
    assert (answer.status_code, "Set-Cookie" in answer.headers) == (400, False)
    assert "made for another browser" in answer.text


def test_the_browser_that_asked_spends_the_code_once_and_loses_its_state(site):
    http, state = sign_in(site.base_url, "stable"), secrets.token_urlsafe(32)
    url = start(site, http, HELLO, state).headers["Location"]
    cookies = {STATE_COOKIE_NAME: state}
    first = requests.get(url, cookies=cookies, allow_redirects=False, timeout=10)
    replayed = requests.get(url, cookies=cookies, allow_redirects=False, timeout=10)
    set_cookies = first.raw.headers.getlist("Set-Cookie")
    assert (first.status_code, first.headers["Location"]) == (302, "/stable/hello/")
    assert [c.split("=", 1)[0] for c in set_cookies] == ["portal_session", STATE_COOKIE_NAME]
    assert set_cookies[1].startswith(f"{STATE_COOKIE_NAME}=; Expires=Thu, 01 Jan 1970")
    assert (replayed.status_code, "Set-Cookie" in replayed.headers) == (400, False)


def test_a_code_for_one_state_is_refused_with_another_on_the_right_host(site):
    http = sign_in(site.base_url, "stable")
    url = start(site, http, HELLO, secrets.token_urlsafe(32)).headers["Location"]
    other = {STATE_COOKIE_NAME: secrets.token_urlsafe(32)}
    assert requests.get(url, cookies=other, allow_redirects=False, timeout=10).status_code == 400


@pytest.mark.parametrize(
    "state",
    ["", "0" * 63, "g" * 64, "A" * 64, "0" * 65, None],
    ids=["empty", "short", "not hex", "upper case", "long", "missing"],
)
def test_the_portal_host_refuses_a_start_without_a_state(site, state):
    http = sign_in(site.base_url, "admin")
    params = {} if state is None else {"state": state}
    answer = http.get(
        site.base_url + "/_portal/handoff",
        params={"product": HELLO, "next": "/stable/hello/", **params},
        allow_redirects=False,
        timeout=10,
    )
    assert (answer.status_code, "Location" in answer.headers) == (400, False)
    assert "This sign-in link is incomplete" in answer.text


@pytest.mark.parametrize(
    ("tier", "key", "next_path", "status", "says"),
    [
        ("stable", "admin/manage", "/admin/manage/", 403, "needs the Admin tier (admin)"),
        ("ea", "admin/manage", "/admin/manage/", 403, "needs the Admin tier (admin)"),
        ("admin", "admin/manage", "/admin/manage/", 302, None),
        (
            "stable",
            "stable/seistech",
            "/stable/seistech/svc_hazard/",
            403,
            "svc_hazard/ of",
        ),
        ("stable", "stable/seistech", "/stable/seistech/SVC_HAZARD/x", 403, "svc_hazard/ of"),
        ("stable", "stable/seistech", "/stable/seistech/svc_disagg/", 302, None),
        ("ea", "stable/seistech", "/stable/seistech/svc_hazard/", 302, None),
        ("stable", "ea/nothing", "/ea/nothing/", 404, "There is no such product"),
    ],
)
def test_the_portal_host_mints_codes_only_for_what_the_user_may_open_now(
    site, tier, key, next_path, status, says
):
    http = sign_in(site.base_url, tier)
    answer = start(site, http, key, secrets.token_urlsafe(32), next_path)
    assert answer.status_code == status
    if says is not None:
        assert says in answer.text
        assert "Location" not in answer.headers


def test_a_lowered_tier_gets_no_more_codes(site):
    http = sign_in(site.base_url, "ea")
    admin = site.services.user_admin()
    try:
        admin.set_tier("auth0|demo-ea", Tier.ADMIN, actor="test", source=Source.CLI)
        assert start(site, http, "admin/manage", secrets.token_urlsafe(32)).status_code == 302
        admin.set_tier("auth0|demo-ea", Tier.EA, actor="test", source=Source.CLI)
        assert start(site, http, "admin/manage", secrets.token_urlsafe(32)).status_code == 403
    finally:
        admin.set_tier("auth0|demo-ea", Tier.EA, actor="test", source=Source.CLI)


def test_a_product_host_starts_the_handoff_itself_for_a_proxy_that_sets_no_cookie(site):
    answer = requests.get(
        origin_of(site, HELLO) + "/_portal/handoff?next=/stable/hello/page%3Fx",
        allow_redirects=False,
        timeout=10,
    )
    state = answer.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(site.base_url + "/_portal/handoff?")
    assert query == {
        "product": [HELLO],
        "next": ["/stable/hello/page?x"],
        "state": [digest(state)],
    }
