"""The settings model: each variable reaches its field, each check refuses with its own sentence,
a wrong value stops the portal by name, and the generated reference is what the model declares."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.settings import PROJECT_ROOT, ConfigError, Settings, load_settings, reference
from tests.test_config import production as production_environment

pytestmark = pytest.mark.unit

KEY_ADVICE = (
    "2048 bits or more; make one with openssl genpkey -algorithm RSA -pkeyopt "
    "rsa_keygen_bits:3072, one line with \\n for its line breaks in an env file"
)


@pytest.fixture
def development(tmp_path):
    """Load settings in development from `changes` over an instance folder of the test's own."""

    def load(**changes):
        return load_settings({"PORTAL_INSTANCE_PATH": str(tmp_path), **changes})

    return load


def production(**changes):
    return load_settings(production_environment(**changes))


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("AUTH0_MANAGEMENT_DOMAIN", "https://tenant.eu.auth0.com/", "auth0_management_domain",
         "tenant.eu.auth0.com"),
        ("PORTAL_WORKERS", "4", "workers", 4),
        ("PORTAL_IDENTITY_HEADERS", "X-Corp-User, X-Corp-*", "identity_header_names",
         ("X-Corp-User", "X-Corp-*")),
        ("PORTAL_LOG_FORMAT", "json", "json_logs", True),
        ("PORTAL_GUNICORN_ACCESSLOG", "-", "gunicorn_accesslog", "-"),
        ("PROMETHEUS_MULTIPROC_DIR", "/run/metrics", "metrics_folder", "/run/metrics"),
        ("SESSION_IDLE_MINUTES", "30", "session_idle_minutes", 30),
    ],
)  # fmt: skip
def test_each_variable_reaches_its_field(development, variable, value, field, expected):
    assert getattr(development(**{variable: value}), field) == expected


def test_portal_block_reaches_the_blocked_paths(development):
    blocked = development(PORTAL_BLOCK="ea/disagg/api/export").blocked_paths
    assert [block.text for block in blocked] == ["ea/disagg/api/export"]


def test_the_management_api_lives_on_the_management_domain():
    settings = production(
        AUTH0_MANAGEMENT_DOMAIN="tenant.eu.auth0.com", AUTH0_DOMAIN="id.example.org"
    )
    assert (settings.issuer, settings.management_issuer) == (
        "https://id.example.org/",
        "https://tenant.eu.auth0.com/",
    )


def test_the_real_environment_wins_over_the_env_file(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("PORTAL_SITE_NAME=From the file\nPORTAL_WORKERS=3\n")
    monkeypatch.setitem(Settings.model_config, "env_file", env_file)
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("PORTAL_SITE_NAME", "From the environment")
    settings = load_settings()
    assert (settings.site_name, settings.workers) == ("From the environment", 3)


def test_settings_built_in_code_read_no_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_SITE_NAME", "From the environment")
    assert Settings(instance_path=tmp_path).site_name == "Portal"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"SECRET_KEY": None},
         "SECRET_KEY is required in production (at least 32 random characters)"),
        ({"OIDC_CLIENT_SECRET": "changeme"},
         "OIDC_CLIENT_SECRET is too weak for production: it has 8 characters; at least 32 are "
         "needed. Use a random value, e.g. python -c 'import secrets; "
         "print(secrets.token_urlsafe(48))'"),
        ({"PORTAL_IDENTITY_KEY": None},
         "PORTAL_IDENTITY_KEY is required in production: the RSA private key (PEM, "
         f"{KEY_ADVICE}) that signs the identity tokens process and upstream products get"),
        ({"PORTAL_IDENTITY_KEY": "changeme"},
         f"PORTAL_IDENTITY_KEY is not a PEM private key ({KEY_ADVICE})"),
        ({"PORTAL_BASE_URL": "http://portal.example.org"},
         "PORTAL_BASE_URL must be https in production (cookies are Secure)"),
        ({"AUTH0_DOMAIN": None}, "OIDC_ISSUER or AUTH0_DOMAIN is required in production"),
        ({"AUTH0_DOMAIN": None, "OIDC_ISSUER": "http://idp.example.org/"},
         "OIDC_ISSUER must be an https URL in production, got 'http://idp.example.org/'"),
        ({"OIDC_CLIENT_ID": None}, "OIDC_CLIENT_ID is required in production"),
        ({"OIDC_CLIENT_SECRET": None}, "OIDC_CLIENT_SECRET is required in production"),
        ({"DATABASE_URL": None}, "DATABASE_URL is required in production"),
        ({"DATABASE_URL": "sqlite:////srv/portal.sqlite3"},
         "DATABASE_URL is SQLite, which one machine's workers can share but no second node can; "
         "use MariaDB in production, or set PORTAL_ALLOW_SQLITE=1 to run on one machine anyway"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else None,
)  # fmt: skip
def test_each_production_check_refuses_with_its_message(changes, message):
    with pytest.raises(ConfigError) as refused:
        production(**changes)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"PORTAL_ENV": "staging"},
         "PORTAL_ENV must be 'development' or 'production', got 'staging'"),
        ({"PORTAL_BASE_URL": "http://h/portal"},
         "PORTAL_BASE_URL must be like https://portal.example.org, got 'http://h/portal'"),
        ({"OIDC_ISSUER": "https://idp.example.org/", "AUTH0_DOMAIN": "t.auth0.com",
          "OIDC_CLIENT_ID": "c"}, "set either OIDC_ISSUER or AUTH0_DOMAIN, not both"),
        ({"AUTH0_DOMAIN": "tenant"},
         "AUTH0_DOMAIN must be a host name like tenant.eu.auth0.com, got 'tenant'"),
        ({"AUTH0_MANAGEMENT_DOMAIN": "a b"},
         "AUTH0_MANAGEMENT_DOMAIN must be a host name like tenant.eu.auth0.com, got 'a b'"),
        ({"OIDC_ISSUER": "https://idp.example.org/"},
         "OIDC_CLIENT_ID is required when OIDC_ISSUER or AUTH0_DOMAIN is set"),
        ({"OIDC_SCOPES": "profile email"},
         "OIDC_SCOPES must include openid, got 'profile email'"),
        ({"PORTAL_ADMIN_SCOPE": "portal admin"},
         "PORTAL_ADMIN_SCOPE must be one scope, got 'portal admin'"),
        ({"PORTAL_WEBHOOK_SECRET": "short"},
         "PORTAL_WEBHOOK_SECRET must be at least 32 random characters"),
        ({"PORTAL_HOST_DOMAIN": "portal.example.org/x"},
         "PORTAL_HOST_DOMAIN must be a host name like portal.example.org, got "
         "'portal.example.org/x'"),
        ({"PORTAL_HOST_DOMAIN": "portal.example.org", "PORTAL_BASE_URL": "http://www.example.org"},
         "PORTAL_HOST_DOMAIN=portal.example.org but PORTAL_BASE_URL is http://www.example.org: in "
         "host mode the portal is served on the domain's own host, so they must name the same "
         "host"),
        ({"PORTAL_METRICS_ALLOW": "10.0.0.0/8 intranet"},
         "PORTAL_METRICS_ALLOW must list networks like 10.0.0.0/8, got 'intranet'"),
        ({"PORTAL_IMPORT_TIMEOUT_SECONDS": "ten"},
         "PORTAL_IMPORT_TIMEOUT_SECONDS must be a number, got 'ten'"),
        ({"PORTAL_IMPORT_TIMEOUT_SECONDS": "-1"},
         "PORTAL_IMPORT_TIMEOUT_SECONDS must be 0.0 or more, got '-1'"),
        ({"PORTAL_REDIS_TIMEOUT": "0"}, "PORTAL_REDIS_TIMEOUT must be more than 0.0, got '0'"),
        ({"PORTAL_WORKERS": "two"}, "PORTAL_WORKERS must be a whole number, got 'two'"),
        ({"PORTAL_TRUSTED_PROXIES": "-1"}, "PORTAL_TRUSTED_PROXIES must be 0 or more, got '-1'"),
        ({"PORTAL_ALLOW_SQLITE": "maybe"},
         "PORTAL_ALLOW_SQLITE must be 1 or 0 (true or false), got 'maybe'"),
        ({"PORTAL_LOG_FORMAT": "xml"},
         "PORTAL_LOG_FORMAT must be '', 'json' or 'text', got 'xml'"),
    ],
    ids=lambda value: "+".join(value) if isinstance(value, dict) else None,
)  # fmt: skip
def test_each_check_refuses_with_its_message(development, changes, message):
    with pytest.raises(ConfigError) as refused:
        development(**changes)
    assert str(refused.value) == message


def test_every_wrong_value_is_named_at_once(development):
    with pytest.raises(ConfigError) as refused:
        development(PORTAL_WORKERS="two", PORTAL_THREADS="many")
    assert str(refused.value).splitlines() == [
        "PORTAL_WORKERS must be a whole number, got 'two'",
        "PORTAL_THREADS must be a whole number, got 'many'",
    ]


def test_an_empty_login_rate_limit_means_no_limit(development):
    assert development(PORTAL_LOGIN_RATE_LIMIT="").login_rate_limit == ""


def test_a_blank_value_is_the_default(development):
    assert development(PORTAL_WORKERS=" ", PORTAL_SITE_NAME="").workers == 2


def run_command(argv, tmp_path, **changes):
    """`argv` run from the project folder with the test's environment less the portal's
    settings, plus `changes`: (exit status, what it wrote to stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "DATABASE_"))}
    done = subprocess.run(
        [str(Path(sys.executable).with_name(argv[0])), *argv[1:]],
        cwd=PROJECT_ROOT,
        env={**env, "PORTAL_INSTANCE_PATH": str(tmp_path), **changes},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stderr


def test_portal_serve_names_a_malformed_value_and_stops(tmp_path):
    assert run_command(
        ["portal", "serve", "--port", "0"], tmp_path, PORTAL_IMPORT_TIMEOUT_SECONDS="ten"
    ) == (1, "Error: PORTAL_IMPORT_TIMEOUT_SECONDS must be a number, got 'ten'\n")


def test_gunicorn_names_a_malformed_value_and_stops(tmp_path):
    assert run_command(
        ["gunicorn", "-c", "gunicorn.conf.py", "--check-config"], tmp_path, PORTAL_WORKERS="two"
    ) == (1, "Error: PORTAL_WORKERS must be a whole number, got 'two'\n")


def test_the_settings_reference_and_env_example_are_generated_from_the_model():
    stale = [str(path) for path in reference.outdated()]
    fix = "run `make reference` (portal settings reference --write)"
    assert stale == [], f"{', '.join(stale)} out of date: {fix}"


def test_the_reference_check_names_a_stale_file(tmp_path):
    reference.write(tmp_path)
    (tmp_path / ".env.example").write_text("PORTAL_ENV=production\n")
    assert reference.outdated(tmp_path) == [Path(".env.example")]


def test_every_setting_is_documented_under_its_variable():
    page = reference.render_markdown()
    missing = [
        info.alias for info in Settings.model_fields.values() if f"### `{info.alias}`" not in page
    ]
    assert missing == []
