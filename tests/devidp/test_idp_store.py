import threading

import pytest
from devidp_support import CLIENT_ID, ROLES, Idp, make_settings, mount

from devidp import (
    DEMO_USERS,
    DevIdpRefused,
    DevIdpStore,
    create_dev_idp,
    get_store,
)

pytestmark = pytest.mark.unit


def test_production_mode_is_refused(db_path):
    with pytest.raises(DevIdpRefused) as refused:
        create_dev_idp(make_settings(db_path, production=True))

    assert str(refused.value) == (
        "the development identity provider refuses to run in production; "
        "configure OIDC_ISSUER / AUTH0_DOMAIN"
    )
    assert isinstance(refused.value, RuntimeError)
    assert not db_path.exists()


def test_demo_users_cover_every_tier(app):
    store = get_store(app)

    assert [(u.email, u.password, u.roles, u.name) for u in DEMO_USERS] == [
        ("admin@example.com", "admin", ("admin",), "Ada Admin"),
        ("devel@example.com", "devel", ("devel",), "Dev Developer"),
        ("ea@example.com", "ea", ("ea",), "Eve Early"),
        ("stable@example.com", "stable", (), "Sam Stable"),
    ]
    assert store.get_user("auth0|demo-stable").roles == ()
    assert store.get_user("auth0|demo-admin").name == "Ada Admin"


def test_store_is_reachable_through_the_app_extension(app):
    assert app.extensions["devidp"].store is get_store(app)
    assert isinstance(get_store(app), DevIdpStore)


def test_seeding_again_keeps_role_changes(app, db_path):
    get_store(app).set_roles("auth0|demo-ea", ["devel"])

    restarted = create_dev_idp(make_settings(db_path))

    assert get_store(restarted).get_user("auth0|demo-ea").roles == ("devel",)


def test_added_user_gets_an_auth0_style_subject_and_can_sign_in(idp):
    subject = idp.store.add_user("New.Person@Example.com", "s3cret", ["ea"], "New Person")

    tokens = idp.sign_in("new.person@example.com", "s3cret")

    assert subject.startswith("auth0|")
    claims = idp.verify(tokens["id_token"], CLIENT_ID)
    assert claims["sub"] == subject
    assert claims[ROLES] == ["ea"]


def test_adding_a_duplicate_email_is_refused(app):
    with pytest.raises(ValueError, match="already exists"):
        get_store(app).add_user("admin@example.com", "x", [], "Copy")


def test_setting_roles_of_an_unknown_subject_raises_key_error(app):
    with pytest.raises(KeyError):
        get_store(app).set_roles("auth0|nobody", ["admin"])


def test_two_processes_on_one_file_share_codes_and_keys(db_path):
    worker_a = create_dev_idp(make_settings(db_path))
    worker_b = create_dev_idp(make_settings(db_path))
    idp_a, idp_b = Idp(worker_a, mount(worker_a)), Idp(worker_b, mount(worker_b))

    code = idp_a.login_code()
    response = idp_b.redeem(code, verifier=idp_a.verifier)

    assert response.status_code == 200
    assert idp_a.browser.get("/idp/.well-known/jwks.json").get_json() == (
        idp_b.browser.get("/idp/.well-known/jwks.json").get_json()
    )
    assert idp_a.verify(response.get_json()["id_token"], CLIENT_ID)["sub"] == "auth0|demo-admin"
    assert idp_a.redeem(code, verifier=idp_a.verifier).get_json()["error"] == "invalid_grant"


def test_concurrent_first_starts_create_exactly_one_signing_key(db_path):
    stores = []
    barrier = threading.Barrier(4)

    def start():
        barrier.wait()
        stores.append(DevIdpStore(f"sqlite:///{db_path}"))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    jwks = [store.public_jwks() for store in stores]
    assert len(jwks[0]["keys"]) == 1
    assert all(keys == jwks[0] for keys in jwks)


def test_a_code_is_redeemed_once_when_two_workers_race(db_path):
    worker_a = create_dev_idp(make_settings(db_path))
    worker_b = create_dev_idp(make_settings(db_path))
    idp_a = Idp(worker_a, mount(worker_a))
    code = idp_a.login_code()
    results = []
    barrier = threading.Barrier(2)

    def redeem(app):
        barrier.wait()
        results.append(Idp(app, mount(app)).redeem(code, verifier=idp_a.verifier).status_code)

    threads = [threading.Thread(target=redeem, args=(w,)) for w in (worker_a, worker_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [200, 400]


def test_sqlite_store_uses_write_ahead_logging(app):
    with get_store(app).engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()

    assert mode == "wal"


def test_standalone_app_sets_its_cookie_on_the_root_path(app):
    client = app.test_client()

    page = client.get(
        "/authorize",
        query_string={
            "client_id": CLIENT_ID,
            "redirect_uri": "http://localhost/callback",
            "response_type": "code",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )

    assert page.status_code == 200
    assert "Path=/;" in page.headers["Set-Cookie"]
    assert 'action="/authorize"' in page.get_data(as_text=True)
