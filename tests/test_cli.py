"""The `portal` command, run as an operator or product developer would."""

import pytest
from click.testing import CliRunner

from portal.cli import main

pytestmark = pytest.mark.site


def table(output):
    return [line.split() for line in output.splitlines()]


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("PORTAL_APPS_DIR", str(tmp_path / "apps"))
    monkeypatch.delenv("PORTAL_APPS", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def invoke(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_apps_lists_tier_name_mount_and_status(run, tmp_path):
    (tmp_path / "apps" / "ea" / "alpha").mkdir(parents=True)
    (tmp_path / "apps" / "ea" / "alpha" / "__init__.py").write_text(
        "def app(environ, start_response):\n    return []\n"
    )
    result = run("apps")
    assert result.exit_code == 0
    assert table(result.output) == [
        ["TIER", "NAME", "MOUNT", "STATUS"],
        ["ea", "alpha", "/ea/alpha/", "loaded"],
    ]


def test_apps_reports_broken_products_with_their_error(run, tmp_path):
    (tmp_path / "apps" / "devel" / "bad").mkdir(parents=True)
    (tmp_path / "apps/devel/bad/__init__.py").write_text("raise ImportError('no numpy')\n")
    result = run("apps")
    assert ["devel", "bad", "/devel/bad/", "broken"] in table(result.output)
    assert "devel/bad: ImportError: no numpy" in result.output


def test_new_app_scaffolds_a_product_that_is_then_listed(run, tmp_path):
    result = run("new-app", "devel/widgets")
    assert result.exit_code == 0
    assert (tmp_path / "apps" / "devel" / "widgets" / "__init__.py").is_file()
    assert ["devel", "widgets", "/devel/widgets/", "loaded"] in table(run("apps").output)


def test_new_app_refuses_an_unknown_tier(run):
    result = run("new-app", "beta/widgets")
    assert result.exit_code == 2
    assert "unknown tier 'beta'" in result.output


def test_new_app_refuses_an_existing_product(run):
    run("new-app", "ea/widgets")
    result = run("new-app", "ea/widgets")
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_promote_moves_a_product_to_another_tier(run, tmp_path):
    run("new-app", "devel/widgets")
    result = run("promote", "devel/widgets", "ea")
    assert result.exit_code == 0
    assert not (tmp_path / "apps" / "devel" / "widgets").exists()
    assert ["ea", "widgets", "/ea/widgets/", "loaded"] in table(run("apps").output)


def test_promote_refuses_when_the_target_exists(run, tmp_path):
    run("new-app", "devel/widgets")
    run("new-app", "ea/widgets")
    result = run("promote", "devel/widgets", "ea")
    assert result.exit_code == 1
    assert (tmp_path / "apps" / "devel" / "widgets").is_dir()


def test_db_upgrade_creates_the_schema(run, tmp_path):
    result = run("db", "upgrade")
    assert result.exit_code == 0
    assert (tmp_path / "instance" / "portal.sqlite3").is_file()


def test_a_production_start_without_a_secret_names_it(run, monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    result = run("apps")
    assert result.exit_code == 1
    assert "SECRET_KEY is required in production" in result.output


def test_token_prints_an_access_token_for_a_demo_user(run):
    import jwt

    result = run("token", "ea")
    assert result.exit_code == 0
    claims = jwt.decode(result.output.strip(), options={"verify_signature": False})
    assert (claims["sub"], claims["aud"], claims["https://portal/roles"]) == (
        "auth0|demo-ea",
        "portal-api",
        ["ea"],
    )


def test_token_for_an_unknown_user_says_so(run):
    result = run("token", "nobody@example.org")
    assert result.exit_code == 1
    assert "no active user 'nobody@example.org'" in result.output


def test_new_app_says_the_product_is_served_at_once_and_how_to_test_it(run, tmp_path):
    result = run("new-app", "devel/widgets")
    assert result.output.strip() == (
        f"Created {tmp_path / 'apps' / 'devel' / 'widgets'}. It is served at /devel/widgets/ "
        "(a running portal picks it up at once). Run its test: make test-app APP=devel/widgets"
    )


def test_promote_says_where_the_product_is_served_and_that_the_old_address_redirects(run, tmp_path):
    run("new-app", "devel/widgets")
    result = run("promote", "devel/widgets", "ea")
    apps = tmp_path / "apps"
    assert result.output.strip() == (
        f"Moved {apps / 'devel' / 'widgets'} to {apps / 'ea' / 'widgets'}. It is served at "
        "/ea/widgets/ (a running portal picks the move up at once), and /devel/widgets/ "
        "redirects there."
    )


def test_apps_shows_stricter_paths_and_what_portal_block_removes(run, tmp_path, monkeypatch):
    folder = tmp_path / "apps" / "stable" / "seis"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("def app(environ, start_response):\n    return []\n")
    (folder / "product.toml").write_text('[stricter_paths]\n"/svc_hazard/" = "ea"\n')
    monkeypatch.setenv("PORTAL_BLOCK", "stable/seis/svc_report/* devel/gone/*")
    result = run("apps")
    assert result.exit_code == 0
    assert "stable/seis: /svc_hazard/ needs ea" in result.output.splitlines()
    assert "stable/seis: stable/seis/svc_report/* removed (PORTAL_BLOCK)" in result.output
    assert "PORTAL_BLOCK entry devel/gone/* matches no product" in result.output
