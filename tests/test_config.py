import pytest

from auth.identity_token import generate_key_pem
from portal.config import ConfigError, load_settings

pytestmark = pytest.mark.unit

STRONG = "k3J9x-Qw8vZ2mN5pL7rT1yU4iO6aS0dF-gH"
CLIENT_SECRET = "Zq8-XvN2pLr7tY0uBw4sKe9mHc1oJd6fGa3i_Vn5"
IDENTITY_KEY = generate_key_pem()


def production(**extra):
    env = {
        "PORTAL_ENV": "production",
        "SECRET_KEY": STRONG,
        "AUTH0_DOMAIN": "tenant.eu.auth0.com",
        "OIDC_CLIENT_ID": "client",
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "DATABASE_URL": "mysql+pymysql://portal@db/portal",
        "PORTAL_BASE_URL": "https://portal.example.org",
        "PORTAL_IDENTITY_KEY": IDENTITY_KEY,
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def test_development_defaults_need_no_settings(tmp_path):
    settings = load_settings({"PORTAL_INSTANCE_PATH": str(tmp_path)})
    assert settings.uses_dev_idp
    assert settings.issuer == "http://127.0.0.1:5000/idp"
    assert settings.database_url == f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    assert len(settings.secret_key) >= 32


def test_development_secret_survives_a_restart(tmp_path):
    first = load_settings({"PORTAL_INSTANCE_PATH": str(tmp_path)})
    second = load_settings({"PORTAL_INSTANCE_PATH": str(tmp_path)})
    assert first.secret_key == second.secret_key


def test_production_with_every_setting_loads():
    settings = load_settings(production())
    assert settings.production
    assert settings.issuer == "https://tenant.eu.auth0.com/"
    assert settings.secure_cookies


@pytest.mark.parametrize("secret", [None, "", "changeme", "short-but-not-32", "a" * 40])
def test_production_refuses_a_missing_or_weak_secret(secret):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(production(SECRET_KEY=secret))


@pytest.mark.parametrize("name", ["OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "DATABASE_URL"])
def test_production_names_the_missing_setting(name):
    with pytest.raises(ConfigError, match=name):
        load_settings(production(**{name: None}))


def test_production_refuses_the_development_identity_provider():
    with pytest.raises(ConfigError, match="OIDC_ISSUER or AUTH0_DOMAIN is required in production"):
        load_settings(production(AUTH0_DOMAIN=None))


def test_portal_apps_patterns_are_split_on_spaces_and_commas(tmp_path):
    settings = load_settings(
        {"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_APPS": "stable/*, ea/* !ea/forecast"}
    )
    assert settings.apps_patterns == ("stable/*", "ea/*", "!ea/forecast")


def test_a_base_url_with_a_path_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="PORTAL_BASE_URL"):
        load_settings({"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_BASE_URL": "http://h/portal"})


@pytest.mark.parametrize("domain", ["tenant", "tenant.auth0.com/path", "https://", "a b.auth0.com"])
def test_a_malformed_auth0_domain_is_named(domain):
    with pytest.raises(ConfigError, match="AUTH0_DOMAIN must be a host name"):
        load_settings(production(AUTH0_DOMAIN=domain))


def test_production_refuses_a_plain_http_issuer():
    with pytest.raises(ConfigError, match="OIDC_ISSUER must be an https URL in production"):
        load_settings(production(AUTH0_DOMAIN=None, OIDC_ISSUER="http://idp.example.org/"))


def test_production_refuses_a_plain_http_base_url():
    with pytest.raises(ConfigError, match="PORTAL_BASE_URL must be https in production"):
        load_settings(production(PORTAL_BASE_URL="http://portal.example.org"))


def test_oidc_scopes_without_openid_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="OIDC_SCOPES must include openid"):
        load_settings({"PORTAL_INSTANCE_PATH": str(tmp_path), "OIDC_SCOPES": "profile email"})


SECRET_SETTINGS = [
    "SECRET_KEY",
    "OIDC_CLIENT_SECRET",
    "AUTH0_MANAGEMENT_CLIENT_SECRET",
    "PORTAL_WEBHOOK_SECRET",
    "PORTAL_METRICS_TOKEN",
]
WEAK = {
    "one character": "x",
    "thirty-two a's": "a" * 32,
    "a repeated pattern": "0123456789" * 4,
    "a keyboard sequence": "abcdefghijklmnopqrstuvwxyz012345",
    "words and a number": "correct-horse-battery-staple-2024",
}


@pytest.mark.parametrize("name", SECRET_SETTINGS)
@pytest.mark.parametrize("value", WEAK.values(), ids=WEAK.keys())
def test_production_refuses_every_weak_secret_by_name(name, value):
    with pytest.raises(ConfigError, match=f"^{name} is too weak for production"):
        load_settings(production(**{name: value}))


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_production_takes_a_random_secret_in_every_secret_setting(name):
    assert load_settings(production(**{name: "Xk2_Lq9vNw3Rt7Yb0Mz5Hs8Pd4Jf6Gc1Ua-Ee"})).production


def test_production_refuses_sqlite_unless_allowed():
    sqlite = "sqlite:////srv/portal/instance/portal.sqlite3"
    with pytest.raises(ConfigError, match=r"^DATABASE_URL is SQLite"):
        load_settings(production(DATABASE_URL=sqlite))
    assert load_settings(production(DATABASE_URL=sqlite, PORTAL_ALLOW_SQLITE="1")).production


def test_host_mode_serves_the_portal_on_the_domains_own_host(tmp_path):
    settings = load_settings(
        {"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_HOST_DOMAIN": "localhost:5000"}
    )
    assert settings.base_url == "http://localhost:5000"
    assert settings.origins.product_origin("stable/hello") == "http://hello--stable.localhost:5000"
    assert settings.allowed_hosts == ("localhost", ".localhost")


def test_host_mode_refuses_a_base_url_on_another_host():
    with pytest.raises(ConfigError, match=r"^PORTAL_HOST_DOMAIN=portal\.example\.org but"):
        load_settings(
            production(
                PORTAL_HOST_DOMAIN="portal.example.org", PORTAL_BASE_URL="https://www.example.org"
            )
        )


def test_trusted_hosts_default_to_the_base_urls_host():
    assert load_settings(production()).allowed_hosts == ("portal.example.org",)
