"""The portal's own pages and errors, through the WSGI stack in-process."""


def test_sign_in_with_the_issuer_down_is_a_clear_503(https_site):
    response = https_site.get("/login", base_url="https://portal.test")
    assert response.status_code == 503
    assert "The identity provider cannot be reached right now." in response.text
    assert "Traceback" not in response.text


def test_the_session_cookie_is_secure_on_https(https_site):
    from flask import Flask, session

    from auth.flask_session import DatabaseSessionInterface

    services = https_site.application.services
    app = Flask(__name__)
    app.session_interface = DatabaseSessionInterface(services.store, secure=True)

    @app.get("/")
    def touch():
        session["seen"] = True
        return "ok"

    cookie = app.test_client().get("/").headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie


def test_login_on_another_host_name_moves_to_the_canonical_origin(https_site):
    response = https_site.get("/login?next=/ea/forecast/", base_url="http://localhost:5000")
    assert response.status_code == 302
    assert response.headers["Location"] == (
        "https://portal.test/login?next=%2Fea%2Fforecast%2F&canonical=1"
    )


def test_a_proxy_that_rewrites_the_host_gets_an_explanation_not_a_redirect_loop(https_site):
    response = https_site.get("/login?canonical=1", base_url="http://internal:8000")
    assert response.status_code == 500
    assert "PORTAL_BASE_URL says https://portal.test" in response.text


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
