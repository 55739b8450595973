import requests

from tests.support.signin import sign_in


def test_devel_user_signs_in_and_sees_the_dashboard(portal):
    session = sign_in(portal.base_url, "devel")
    me = session.get(portal.base_url + "/api/me", timeout=10).json()
    assert me["tier"] == "devel"


def test_anonymous_browser_is_sent_to_login(portal):
    response = requests.get(portal.base_url + "/stable/hello/", allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fstable%2Fhello%2F"
