"""The portal's own pages and errors, through the WSGI stack in-process."""

import pytest

pytestmark = pytest.mark.site


def test_sign_in_with_the_issuer_down_is_a_clear_503(https_site):
    response = https_site.get("/login", base_url="https://portal.test")
    assert response.status_code == 503
    assert "The identity provider cannot be reached right now." in response.text
    assert "Traceback" not in response.text


def test_the_session_cookie_is_a_secure_host_cookie_on_https(https_site):
    from flask import Flask, session

    from auth.flask_session import DatabaseSessionInterface

    services = https_site.application.extensions["portal"]
    app = Flask(__name__)
    app.session_interface = DatabaseSessionInterface(services.store, services.settings.origins)

    @app.get("/")
    def touch():
        session["seen"] = True
        return "ok"

    cookie = app.test_client().get("/", base_url="https://portal.test").headers["Set-Cookie"]
    assert cookie.startswith("__Host-portal_session=")
    assert "; Secure" in cookie
    assert "; HttpOnly" in cookie
    assert "; Path=/" in cookie
    assert "Domain" not in cookie


def test_a_request_for_a_host_the_portal_does_not_serve_is_refused(https_site):
    response = https_site.get("/login?next=/ea/forecast/", base_url="http://localhost:5000")
    assert response.status_code == 400
    assert "This portal does not answer for the host &#39;localhost:5000&#39;" in response.text


def test_a_redirect_never_names_a_host_the_request_chose(https_site):
    response = https_site.get("/stable/hello", base_url="https://evil.example")
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_the_health_endpoints_answer_on_any_host(https_site):
    assert https_site.get("/healthz", base_url="http://10.1.2.3:8000").status_code == 200


def test_login_on_a_trusted_alias_moves_to_the_canonical_origin(tmp_path):
    from werkzeug.test import Client

    from portal.application import create_app
    from portal.config import Settings

    application = create_app(
        Settings(
            secret_key="alias-site-secret-0123456789-abcdefghijklmnop",
            database_url=f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            base_url="https://portal.test",
            instance_path=tmp_path,
            oidc_issuer="https://127.0.0.1:9/",
            oidc_client_id="portal",
            oidc_client_secret="client-secret",
            trusted_hosts=("portal.test", "www.portal.test"),
        )
    )
    response = Client(application).get("/login?next=/ea/", base_url="https://www.portal.test")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://portal.test/login?next=%2Fea%2F&canonical=1"
    application.extensions["portal"].database.dispose()


def test_an_unknown_page_is_a_404_page(https_site):
    response = https_site.get("/no/such/page", base_url="https://portal.test")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not Found" in response.text


def test_an_unknown_api_path_is_a_404_json(https_site):
    response = https_site.get(
        "/api/nothing", base_url="https://portal.test", headers={"Accept": "application/json"}
    )
    assert response.status_code == 404
    assert response.json["error"] == "Not Found"
    assert response.json["message"].startswith("The requested URL was not found on the server.")


def test_a_wrong_method_is_a_405_page(https_site):
    response = https_site.post("/", base_url="https://portal.test")
    assert response.status_code == 405
    assert "Method Not Allowed" in response.text


def test_logout_without_a_session_returns_home(https_site):
    response = https_site.get("/logout", base_url="https://portal.test")
    assert (response.status_code, response.headers["Location"]) == (302, "/")


def test_healthz_answers_ok(https_site):
    response = https_site.get("/healthz", base_url="https://portal.test")
    assert (response.status_code, response.json) == (200, {"status": "ok"})


def test_the_stylesheet_is_served_by_the_portal_itself(https_site):
    response = https_site.get("/static/portal.css", base_url="https://portal.test")
    assert response.status_code == 200
    assert response.mimetype == "text/css"


def production_site(tmp_path, **overrides):
    """A portal built with production's settings (production refuses to build without a key,
    and on SQLite unless allowed)."""
    from auth.identity_token import generate_key_pem
    from db.migrate import upgrade
    from portal.application import create_app
    from portal.config import Settings

    url = f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    upgrade(url)
    return create_app(
        Settings(
            environment="production",
            secret_key="Yt6-Fq1wZs8Nb3Kx0Lc5Mv9Pd2Rh7Jg4Ua_Ee",
            database_url=url,
            base_url="https://portal.test",
            instance_path=tmp_path,
            oidc_issuer="https://127.0.0.1:9/",
            oidc_client_id="portal",
            oidc_client_secret="Wd3_Pn8Kz1Qx6Lb0Vc5Mj9Ts2Rg7Hf4Ya-Eu",
            identity_key=generate_key_pem(),
            allow_sqlite=True,
            **overrides,
        )
    )


def test_a_production_start_in_path_mode_warns_of_what_it_does_not_protect(tmp_path, capsys):
    application = production_site(tmp_path)
    application.extensions["portal"].database.dispose()
    log = capsys.readouterr().err
    assert "serving in path mode: every product shares one origin" in log
    assert "set PORTAL_HOST_DOMAIN" in log


def test_a_production_start_in_host_mode_does_not_warn(tmp_path, capsys):
    application = production_site(tmp_path, host_domain="portal.test")
    application.extensions["portal"].database.dispose()
    log = capsys.readouterr().err
    assert "portal ready" in log
    assert "serving in path mode" not in log
