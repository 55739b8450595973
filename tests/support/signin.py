"""Signing in over real HTTP, as a browser would: portal -> provider's form -> callback.

For the tests about signing in (callback, handoff, logout, refresh, provider faults, limits);
a test that only needs someone signed in makes the session directly (`tests.support.sessions`).
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit

import requests

DEMO_PASSWORDS = {
    "admin": ("admin@example.com", "admin"),
    "devel": ("devel@example.com", "devel"),
    "ea": ("ea@example.com", "ea"),
    "stable": ("stable@example.com", "stable"),
}


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attributes.get("action") or ""
            self._in_form = True
        elif tag == "input" and self._in_form and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


def parse_form(html: str) -> tuple[str, dict[str, str]]:
    parser = _FormParser()
    parser.feed(html)
    assert parser.action is not None, "no form on the page"
    return parser.action, parser.fields


def open_login_form(base_url: str, next_path: str = "/", session: requests.Session | None = None):
    session = session or requests.Session()
    page = session.get(f"{base_url}/login?next={quote(next_path)}", timeout=10)
    assert page.status_code == 200, page.text
    action, fields = parse_form(page.text)
    return session, urljoin(page.url, action), fields


def sign_in(
    base_url: str,
    tier_or_email: str,
    password: str | None = None,
    next_path: str = "/",
    session: requests.Session | None = None,
) -> requests.Session:
    """A requests session signed in to the portal as a demo user (by tier) or any provider user."""
    if password is None:
        email, password = DEMO_PASSWORDS[tier_or_email]
    else:
        email = tier_or_email
    session, action, fields = open_login_form(base_url, next_path, session)
    fields.update(email=email, password=password, sign_in="Sign in")
    landing = session.post(action, data=fields, timeout=10)
    assert landing.status_code == 200, landing.text[:2000]
    assert landing.url == base_url + next_path, landing.url
    return session


def session_id_of(live, http: requests.Session) -> str:
    """The server-side session id behind a signed-in client's cookie for the portal's host."""
    host = urlsplit(live.base_url).netloc
    return live.services.store.id_from_cookie(http.cookies["portal_session"], host)


def sign_in_from(url: str, tier: str) -> tuple[requests.Session, requests.Response]:
    """Open `url` signed out, sign in on the form it leads to, and land where it leads back."""
    email, password = DEMO_PASSWORDS[tier]
    session = requests.Session()
    page = session.get(url, timeout=10)
    action, fields = parse_form(page.text)
    fields.update(email=email, password=password, sign_in="Sign in")
    return session, session.post(urljoin(page.url, action), data=fields, timeout=10)
