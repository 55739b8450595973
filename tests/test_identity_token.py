"""The identity token and headers a process or upstream product gets, and the key behind them."""

import stat

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from auth.identity import PortalUser, ProductInfo
from auth.identity_token import IdentityTokens, generate_key_pem
from auth.tiers import Tier
from portal.config import ConfigError, Settings, load_settings
from tests.test_config import production

pytestmark = pytest.mark.site

ADA = PortalUser(
    id=7, subject="auth0|ada", email="ada@example.org", name="Ada Lovelace", tier=Tier.EA
)
DASH = ProductInfo(tier=Tier.EA, name="dash", title="Dash")
KEY = generate_key_pem()


def pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def jwks(https_site):
    response = https_site.get("/.well-known/jwks.json", base_url="https://portal.test")
    assert response.status_code == 200
    return response


@pytest.fixture
def tokens(https_site):
    return https_site.application.extensions["portal"].identity_tokens


def verify(token, jwks, audience):
    key = jwt.PyJWK(jwks.get_json()["keys"][0])
    return jwt.decode(
        token, key, algorithms=["RS256"], audience=audience, issuer="https://portal.test"
    )


def test_the_token_verifies_with_the_portals_published_key_for_its_product(tokens, jwks):
    claims = verify(tokens.token(ADA, DASH), jwks, "ea/dash")
    assert {k: v for k, v in claims.items() if k not in ("iat", "exp")} == {
        "iss": "https://portal.test",
        "aud": "ea/dash",
        "sub": "auth0|ada",
        "email": "ada@example.org",
        "name": "Ada Lovelace",
        "tier": "ea",
    }
    assert claims["exp"] - claims["iat"] == 60


def test_the_token_is_refused_by_another_product(tokens, jwks):
    with pytest.raises(jwt.InvalidAudienceError):
        verify(tokens.token(ADA, DASH), jwks, "ea/other")


def test_the_token_names_the_published_key(tokens, jwks):
    [published] = jwks.get_json()["keys"]
    assert jwt.get_unverified_header(tokens.token(ADA, DASH)) == {
        "alg": "RS256",
        "kid": published["kid"],
        "typ": "JWT",
    }


def test_the_key_set_holds_only_the_public_key_and_may_be_cached_by_anyone(jwks):
    [published] = jwks.get_json()["keys"]
    assert sorted(published) == ["alg", "e", "kid", "kty", "n", "use"]
    assert (jwks.headers["Cache-Control"], jwks.headers["Access-Control-Allow-Origin"]) == (
        "public, max-age=300",
        "*",
    )


def test_the_key_set_needs_no_session(https_site):
    response = https_site.get("/.well-known/jwks.json", base_url="https://portal.test")
    assert "Set-Cookie" not in response.headers


def test_identity_headers_name_the_user_and_carry_the_token(tokens):
    headers = tokens.identity_headers(ADA, DASH)
    assert headers[:4] == [
        ("X-Portal-User", "auth0|ada"),
        ("X-Portal-Email", "ada@example.org"),
        ("X-Portal-Name", "Ada Lovelace"),
        ("X-Portal-Tier", "ea"),
    ]
    assert headers[4] == ("X-Portal-Identity", tokens.token(ADA, DASH))


def test_header_values_beyond_printable_ascii_are_percent_encoded_utf8(tokens):
    jose = PortalUser(
        id=8,
        subject="x|1",
        email="jos\u00e9@example.org",
        name="Jos\u00e9 50%\r\nX: y",
        tier=Tier.EA,
    )
    headers = dict(tokens.identity_headers(jose, DASH))
    assert (headers["X-Portal-Email"], headers["X-Portal-Name"]) == (
        "jos%C3%A9@example.org",
        "Jos%C3%A9 50%25%0D%0AX: y",
    )


def test_a_token_is_reused_while_half_its_life_remains(tokens):
    assert tokens.token(ADA, DASH) == tokens.token(ADA, DASH)


def test_a_changed_tier_gets_a_new_token_at_once(tokens, jwks):
    devel = PortalUser(**{**ADA.to_json(), "tier": Tier.DEVEL})
    assert verify(tokens.token(devel, DASH), jwks, "ea/dash")["tier"] == "devel"


def test_in_development_one_key_is_made_and_kept_in_the_instance_folder(tmp_path):
    first = IdentityTokens("http://p", Settings(instance_path=tmp_path).identity_key_pem)
    second = IdentityTokens("http://p", Settings(instance_path=tmp_path).identity_key_pem)
    assert first.kid == second.kid
    assert stat.S_IMODE((tmp_path / "identity_key.pem").stat().st_mode) == 0o600


def test_a_configured_key_signs_instead_of_the_instance_one(tmp_path):
    settings = load_settings({"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_IDENTITY_KEY": KEY})
    assert settings.identity_key_pem() == KEY.strip()
    assert not (tmp_path / "identity_key.pem").exists()


def test_a_key_written_on_one_line_with_escaped_line_breaks_is_taken(tmp_path):
    one_line = KEY.strip().replace("\n", "\\n")
    settings = load_settings(
        {"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_IDENTITY_KEY": one_line}
    )
    assert IdentityTokens("http://p", settings.identity_key_pem).kid == (
        IdentityTokens("http://p", lambda: KEY).kid
    )


def test_the_key_never_appears_in_the_settings_repr():
    assert "PRIVATE KEY" not in repr(Settings(identity_key=KEY))


def test_production_without_an_identity_key_refuses_to_start():
    with pytest.raises(ConfigError) as refused:
        load_settings(production(PORTAL_IDENTITY_KEY=None))
    assert str(refused.value) == (
        "PORTAL_IDENTITY_KEY is required in production: the RSA private key (PEM, 2048 bits or "
        "more; make one with openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072, one "
        "line with \\n for its line breaks in an env file) that signs the identity tokens process "
        "and upstream products get"
    )


def test_production_with_an_identity_key_starts():
    assert load_settings(production(PORTAL_IDENTITY_KEY=KEY)).identity_key == KEY.strip()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            pem(rsa.generate_private_key(65537, 1024)),
            "is a 1024-bit RSA key; use 2048 bits or more",
        ),
        (
            pem(ec.generate_private_key(ec.SECP256R1())),
            "must be an RSA key (identity tokens are RS256)",
        ),
        ("changeme", "is not a PEM private key"),
        (
            rsa.generate_private_key(65537, 2048)
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase"),
            )
            .decode(),
            "is encrypted; give the key without a passphrase",
        ),
    ],
)
def test_a_weak_or_unusable_identity_key_is_refused_by_name(value, problem):
    with pytest.raises(ConfigError) as refused:
        load_settings(production(PORTAL_IDENTITY_KEY=value))
    assert str(refused.value).startswith(f"PORTAL_IDENTITY_KEY {problem} (2048 bits or more;")
