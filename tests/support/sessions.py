"""A signed-in client without the sign-in: what `/callback` would leave behind, made directly.

Most tests need someone signed in, not the sign-in itself. The round trip (portal `/login`, the
provider's form, `/callback`) costs a dozen requests and a token exchange; `signed_in` writes what
that trip ends with, through the portal's and the provider's own services:

- at the provider: a login session (its `sid`), the token answer the code exchange would give
  (access token, refresh token it will redeem, ID token signed with its current key) and its
  browser cookie, so refreshes and sign-out behave as after a real sign-in;
- at the portal: the user's row from the provider's claims (`record_sign_in`, as the callback
  calls it), then a fresh server-side session holding the sealed tokens and the provider's `sid`;
- in the client: the session cookie the callback's answer sets, parsed from the portal's own
  `Set-Cookie` value for the portal's host. In host mode a product's host gets its cookie through
  the handoff on first visit, as after a real sign-in.

The tests about signing in (callback, handoff, logout, provider faults, rate limits) keep the
round trip of `tests.support.signin`; `tests/test_signed_in_sessions.py` shows both give the same.
"""

from __future__ import annotations

from http.client import HTTPMessage
from urllib.parse import urlsplit

import requests
from authlib.oidc.core.grants.util import generate_id_token
from requests.cookies import MockRequest, MockResponse

from auth.cookies import session_cookie
from auth.hosts import normalize_host
from auth.user_tokens import TokenSet
from auth.users import SignIn, record_sign_in
from devidp.server import DevClient, DevTokenGenerator, Principal, identity_claims
from tests.support.signin import DEMO_PASSWORDS


def signed_in(live, tier_or_email: str) -> requests.Session:
    """A requests session signed in to `live` (a `LiveServer` with the built-in provider) as a
    demo user (by tier) or any user the provider knows (by email)."""
    email = DEMO_PASSWORDS[tier_or_email][0] if tier_or_email in DEMO_PASSWORDS else tier_or_email
    http = requests.Session()
    sid, tokens, claims = _provider_sign_in(live, email, http)
    services = live.services
    user = record_sign_in(
        services.database,
        SignIn(
            subject=claims["sub"],
            email=claims["email"],
            name=claims["name"],
            roles=claims.get(live.settings.roles_claim) or [],
            picture=claims.get("picture") or "",
        ),
        live.settings.tier_roles,
    )
    assert not user.refused, f"{email} is blocked: the callback would refuse them"
    raw_id = services.store.save(
        None,
        {},
        user.id,
        user_agent=http.headers.get("User-Agent", ""),
        ip_address="127.0.0.1",
        tokens=services.tokens.vault.seal(TokenSet.from_response(tokens)),
        idp_sid=sid,
    )
    origins = live.settings.origins
    host = normalize_host(urlsplit(live.base_url).netloc, origins.scheme)
    cookie = session_cookie(origins, services.store.cookie_value(raw_id, host))
    _take_cookie(http, live.base_url + "/callback", cookie)
    return http


def _provider_sign_in(live, email: str, http: requests.Session) -> tuple[str, dict, dict]:
    """The provider's side of a sign-in with the portal's scopes: a login session (its cookie
    in `http`), the token endpoint's answer for the code it would have issued, and the claims
    of the ID token in it."""
    idp = live.devidp
    person = idp.active_user(email)
    login = idp.store.start_login_session(person.subject)
    principal = Principal(person, login.sid, login.auth_time)
    client = DevClient(idp.settings)
    tokens = DevTokenGenerator(idp.settings, idp.store).generate(
        "authorization_code", client, principal, live.settings.oidc_scopes
    )
    if "refresh_token" in tokens:
        idp.store.save_refresh_token(
            tokens["refresh_token"],
            client_id=idp.settings.client_id,
            subject=person.subject,
            sid=login.sid,
            scope=tokens.get("scope", ""),
            auth_time=login.auth_time,
            ttl=idp.settings.refresh_token_ttl,
        )
    user_info = {
        **identity_claims(idp.settings, person),
        "sid": login.sid,
        "auth_time": login.auth_time,
    }
    tokens["id_token"] = generate_id_token(
        tokens,
        user_info,
        idp.store.signing_key_set(),
        iss=idp.settings.issuer,
        aud=idp.settings.client_id,
        exp=idp.settings.id_token_ttl,
        auth_time=login.auth_time,
    )
    _provider_cookie(live, login.sid, http)
    return login.sid, tokens, user_info


def _provider_cookie(live, sid: str, http: requests.Session) -> None:
    """The provider's browser session (single sign-on at its form, its end-session page)."""
    app = live.application.extensions["portal.dev_idp"]
    value = app.session_interface.get_signing_serializer(app).dumps({"sid": sid})
    path = urlsplit(live.devidp.settings.issuer).path.rstrip("/") or "/"
    cookie = f"{app.config['SESSION_COOKIE_NAME']}={value}; HttpOnly; Path={path}; SameSite=Lax"
    _take_cookie(http, f"{live.devidp.settings.issuer.rstrip('/')}/authorize", cookie)


def _take_cookie(http: requests.Session, url: str, set_cookie: str) -> None:
    """Store a `Set-Cookie` value as the client would on an answer from `url`: same domain,
    path and attributes as a real response gives."""
    headers = HTTPMessage()
    headers["Set-Cookie"] = set_cookie
    request = requests.Request("GET", url).prepare()
    http.cookies.extract_cookies(MockResponse(headers), MockRequest(request))
