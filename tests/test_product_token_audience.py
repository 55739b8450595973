"""What the issuer hands back for a product is checked before the product sees it.

Auth0 answers a refresh for an audience missing from the application's refresh token policies
with a token for the default audience, silently. That token may be the portal's own API token,
so the portal looks at `aud` itself. The issuer here is a stand-in function answering as Auth0
does in that case; the session store is the real one, on both databases.
"""

import time
from datetime import timedelta

import jwt
import pytest

from auth.identity import SignInAgain, TokenNotOffered
from auth.sessions import SessionStore
from auth.user_tokens import TokenSet, TokenVault, UserTokens
from auth.users import SignIn, record_sign_in

pytestmark = pytest.mark.unit

FORECAST_API = "https://forecast.example.org/api"
PORTAL_API = "https://portal.example.org/api"


def access_token(audience):
    now = int(time.time())
    claims = {"aud": audience, "sub": "auth0|ada", "iat": now, "exp": now + 600}
    return jwt.encode(claims, "not-checked-here-0123456789abcdef", algorithm="HS256")


def issuer_answering(audience, asked):
    def refresh(refresh_token, **params):
        asked.append((refresh_token, params))
        return {"access_token": access_token(audience), "expires_in": 600, "refresh_token": "rt-2"}

    return refresh


def signed_in(database, refresh):
    store = SessionStore(database, "s" * 40, idle=timedelta(hours=1), lifetime=timedelta(hours=8))
    vault = TokenVault("v" * 40)
    user = record_sign_in(database, SignIn("auth0|ada", "ada@example.org", "Ada", []))
    sign_in = TokenSet(
        access_token=access_token(PORTAL_API),
        expires_at=time.time() + 600,
        refresh_token="rt-1",
        issued_at=time.time(),
    )
    raw_id = store.save(None, {}, user.id, tokens=vault.seal(sign_in))
    return UserTokens(store, vault, refresh, reserved_audiences={PORTAL_API}), raw_id


def test_a_token_the_issuer_made_for_the_portals_api_is_not_handed_to_the_product(database):
    asked = []
    tokens, raw_id = signed_in(database, issuer_answering(PORTAL_API, asked))

    with pytest.raises(TokenNotOffered) as refused:
        tokens.access_token(raw_id, FORECAST_API, "read:forecast")

    assert not isinstance(refused.value, SignInAgain)
    assert str(refused.value) == (
        f"the identity provider answered with a token for {PORTAL_API!r}, not "
        f"{FORECAST_API!r}; allow that audience in the application's refresh token policies"
    )
    assert asked == [("rt-1", {"audience": FORECAST_API, "scope": "read:forecast"})]
    held = tokens.tokens(raw_id)
    assert (held.refresh_token, held.apis) == ("rt-2", {})


def test_a_token_naming_the_declared_audience_among_others_is_handed_over(database):
    asked = []
    tokens, raw_id = signed_in(database, issuer_answering([FORECAST_API, "userinfo"], asked))

    token = tokens.access_token(raw_id, FORECAST_API)

    assert jwt.decode(token, options={"verify_signature": False})["aud"] == [
        FORECAST_API,
        "userinfo",
    ]
    assert asked == [("rt-1", {"audience": FORECAST_API})]
    assert tokens.access_token(raw_id, FORECAST_API) == token
    assert len(asked) == 1


def test_the_portals_own_audience_is_never_asked_for(database):
    asked = []
    tokens, raw_id = signed_in(database, issuer_answering(PORTAL_API, asked))

    with pytest.raises(TokenNotOffered):
        tokens.access_token(raw_id, PORTAL_API)

    assert asked == []
