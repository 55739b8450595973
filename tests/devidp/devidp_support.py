"""Drive the provider mounted at /idp the way the portal and a browser would."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from devidp import DevIdpSettings

ISSUER = "http://localhost/idp"
CALLBACK = "http://localhost/callback"
AFTER_LOGOUT = "http://localhost/"
CLIENT_ID = "portal"
CLIENT_SECRET = "portal-secret"
ROLES = "https://portal/roles"
MANAGEMENT_ID = "portal-management"
MANAGEMENT_SECRET = "management-secret"
MANAGEMENT_AUDIENCE = ISSUER + "/api/v2/"
MANAGEMENT_SETTINGS = {
    "management_client_id": MANAGEMENT_ID,
    "management_client_secret": MANAGEMENT_SECRET,
}


def make_settings(db_path, **overrides) -> DevIdpSettings:
    values = dict(
        issuer=ISSUER,
        database_url=f"sqlite:///{db_path}",
        secret_key="test-secret-key",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=(CALLBACK,),
        post_logout_redirect_uris=(AFTER_LOGOUT,),
    )
    values.update(overrides)
    return DevIdpSettings(**values)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") and attrs.get("type") in ("hidden", "email"):
            self.fields.append((attrs["name"], attrs.get("value") or ""))


def form_fields(html: str) -> list[tuple[str, str]]:
    parser = _FormParser()
    parser.feed(html)
    return parser.fields


@dataclass
class Idp:
    """Drives the provider the way the portal and a browser would."""

    app: object
    browser: Client
    verifier: str = ""
    last_params: dict = field(default_factory=dict)

    @property
    def store(self):
        return self.app.extensions["devidp"].store

    def authorize(self, **overrides):
        self.verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": CALLBACK,
            "scope": "openid profile email offline_access",
            "state": "state-123",
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        params = {k: v for k, v in params.items() if v is not None}
        self.last_params = params
        return self.browser.get("/idp/authorize?" + urlencode(params))

    def submit_login(self, page, email="admin@example.com", password="admin", button="sign_in"):
        data = dict(form_fields(page.get_data(as_text=True)))
        data.update(email=email, password=password)
        data[button] = button
        return self.browser.post("/idp/authorize", data=data)

    def login_code(self, email="admin@example.com", password="admin", **overrides) -> str:
        page = self.authorize(**overrides)
        response = self.submit_login(page, email, password) if page.status_code == 200 else page
        assert response.status_code == 302, response.get_data(as_text=True)
        return query_of(response.headers["Location"])["code"]

    def token(self, **data):
        body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **data}
        return self.browser.post("/idp/oauth/token", data=body)

    def redeem(self, code: str, verifier: str | None = None):
        return self.token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=CALLBACK,
            code_verifier=self.verifier if verifier is None else verifier,
        )

    def sign_in(self, email="admin@example.com", password="admin", **overrides) -> dict:
        response = self.redeem(self.login_code(email, password, **overrides))
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def verify(self, token: str, audience: str) -> dict:
        jwks = self.browser.get("/idp/.well-known/jwks.json").get_json()
        kid = jwt.get_unverified_header(token)["kid"]
        key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid)
        return jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=ISSUER)


def mount(app) -> Client:
    return Client(DispatcherMiddleware(NotFound(), {"/idp": app}))


@dataclass
class Management:
    """Calls the provider's Management API like the portal's client does, over the test client."""

    app: object
    browser: Client
    access_token: str = ""

    @property
    def store(self):
        return self.app.extensions["devidp"].store

    @property
    def ext(self):
        return self.app.extensions["devidp"]

    def token_response(self, **overrides):
        form = {
            "grant_type": "client_credentials",
            "client_id": MANAGEMENT_ID,
            "client_secret": MANAGEMENT_SECRET,
            "audience": MANAGEMENT_AUDIENCE,
        }
        form.update(overrides)
        return self.browser.post("/idp/oauth/token", data={k: v for k, v in form.items() if v})

    def call(self, method, path, *, token=None, **kwargs):
        if token is None:
            if not self.access_token:
                self.access_token = self.token_response().get_json()["access_token"]
            token = self.access_token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.browser.open("/idp/api/v2" + path, method=method, headers=headers, **kwargs)

    def get(self, path, **query):
        return self.call("GET", path, query_string=query)
