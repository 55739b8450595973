"""The portal's Management API client against the real development provider on a real socket."""

import json
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

from auth.tier_roles import TierRoles
from auth.tiers import Tier
from devidp import DevIdpSettings, create_dev_idp
from directory.management import ManagementClient, ManagementError, RemoteUser, UserNotFound
from directory.management_common import ExportExpired
from directory.management_token import TokenSource

pytestmark = pytest.mark.site

MANAGEMENT_ID = "portal-management"
TOKEN_PATH = ("POST", "/idp/oauth/token")


@dataclass
class Live:
    base: str
    idp: object
    secret: str
    seen: list = field(default_factory=list)

    @property
    def store(self):
        return self.idp.store

    @property
    def issuer(self):
        return self.base + "/idp"

    def count(self, method, path_start):
        return sum(1 for m, p, _ in self.seen if m == method and p.startswith(path_start))

    def statuses(self, path_start):
        return [s for _, p, s in self.seen if p.startswith(path_start)]

    def client(self, **overrides) -> ManagementClient:
        options = {
            "issuer": self.issuer,
            "client_id": MANAGEMENT_ID,
            "client_secret": self.secret,
            "timeout": 5.0,
        } | overrides
        return ManagementClient(**options)


def _settings(db_path, issuer, secret, **overrides):
    return DevIdpSettings(
        issuer=issuer,
        database_url=f"sqlite:///{db_path}",
        secret_key="test-secret-key",
        client_id="portal",
        client_secret="portal-secret",
        redirect_uris=(),
        post_logout_redirect_uris=(),
        management_client_id=MANAGEMENT_ID,
        management_client_secret=secret,
        **overrides,
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One provider file with its RSA key and roles, copied per test (key generation is slow)."""
    path = tmp_path_factory.mktemp("template") / "devidp.sqlite3"
    create_dev_idp(_settings(path, "http://template/idp", "x")).extensions[
        "devidp"
    ].store.engine.dispose()
    return path


@pytest.fixture
def live(tmp_path, template, request):
    """The provider served over HTTP in a thread, recording (method, path, status) of requests.

    Each test gets its own client secret, so the process-wide token cache starts empty."""
    db_path = tmp_path / "devidp.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, db_path.with_name(db_path.name + suffix))
    server = make_server("127.0.0.1", 0, NotFound(), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    secret = secrets.token_hex(16)
    overrides = getattr(request, "param", {})
    idp_app = create_dev_idp(_settings(db_path, f"{base}/idp", secret, **overrides))
    dispatcher = DispatcherMiddleware(NotFound(), {"/idp": idp_app})
    result = Live(base, idp_app.extensions["devidp"], secret)

    def recording(environ, start_response):
        def record(status, headers, exc_info=None):
            path = environ.get("SCRIPT_NAME", "") + environ["PATH_INFO"]
            result.seen.append((environ["REQUEST_METHOD"], path, int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return dispatcher(environ, record)

    server.app = recording
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield result
    server.shutdown()
    thread.join(timeout=5)


def people(count, **extra):
    return [{"email": f"p{i:05d}@example.org", "name": f"P {i}", **extra} for i in range(count)]


def test_token_is_fetched_once_and_shared_across_threads(live):
    client = live.client()
    errors = []

    def work():
        try:
            client.get_user("auth0|demo-ea")
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    live.client().get_user("auth0|demo-devel")  # a second client shares the token too

    assert errors == []
    assert live.count(*TOKEN_PATH) == 1
    assert live.count("GET", "/idp/api/v2/users/") == 9


def test_token_is_fetched_again_a_minute_before_it_expires(live):
    now = [1000.0]
    source = TokenSource(
        live.issuer + "/oauth/token",
        MANAGEMENT_ID,
        live.secret,
        live.issuer + "/api/v2/",
        clock=lambda: now[0],
    )

    first = source()
    now[0] += 3600 - 61
    second = source()
    now[0] += 2
    third = source()

    assert first == second
    assert third != first
    assert live.count(*TOKEN_PATH) == 2


def test_a_refused_token_is_replaced_once(live):
    client = live.client()
    client.get_user("auth0|demo-ea")
    live.idp.faults.add("/api/v2/users/*", status=401, body='{"statusCode": 401}')

    user = client.get_user("auth0|demo-ea")

    assert user.user_id == "auth0|demo-ea"
    assert live.count(*TOKEN_PATH) == 2


def test_wrong_credentials_are_a_clear_error(live):
    client = live.client(client_secret="wrong")

    with pytest.raises(ManagementError, match="Auth0 refused POST oauth/token: 401 invalid_client"):
        client.get_user("auth0|demo-ea")


def test_rate_limited_requests_are_retried_until_they_succeed(live):
    live.idp.rate_limiter.limit = 2
    client = live.client()

    users = [client.get_user(s) for s in ["auth0|demo-ea", "auth0|demo-devel"] * 3]

    assert [u.user_id for u in users] == ["auth0|demo-ea", "auth0|demo-devel"] * 3
    statuses = live.statuses("/idp/api/v2/users/")
    assert 429 in statuses
    assert statuses.count(200) == 6


def test_server_errors_are_retried(live):
    live.idp.faults.fail("/api/v2/users/*", 503)

    user = live.client().get_user("auth0|demo-ea")

    assert user.name == "Eve Early"
    assert live.statuses("/idp/api/v2/users/") == [503, 200]


def test_retries_give_up_with_the_last_answer(live):
    live.idp.faults.fail("/api/v2/users/*", 502, times=5)

    with pytest.raises(ManagementError) as failure:
        live.client(max_retries=0).get_user("auth0|demo-ea")

    assert failure.value.status == 502
    assert str(failure.value).startswith("Auth0 refused GET users/auth0|demo-ea: 502")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"users": [', "malformed JSON"),
        ('{"email": "x@example.org"}', "without a user_id"),
        ('{"user_id": 5}', "unexpected shape"),
        ('{"user_id": "a", "created_at": "yesterday"}', "unexpected shape"),
        ('{"user_id": "a", "blocked": "maybe"}', "unexpected shape"),
        ("[]", "unexpected shape"),
    ],
)
def test_malformed_answers_are_management_errors(live, body, message):
    live.idp.faults.malformed("/api/v2/users/*", body=body)

    with pytest.raises(ManagementError, match=message):
        live.client().get_user("auth0|demo-ea")


def test_a_malformed_page_in_a_search_is_a_management_error(live):
    live.idp.faults.malformed("/api/v2/users", body='{"total": "many", "users": []}')

    with pytest.raises(ManagementError):
        list(live.client().search_users('email:"ea@example.com"'))


def test_a_stall_longer_than_the_timeout_is_a_management_error(live):
    live.client().count_users()  # the process's shared token, fetched before anything stalls
    live.idp.faults.stall("/api/v2/users/*", 1.0)
    started = time.monotonic()

    with pytest.raises(ManagementError, match=r"did not answer within 0.3 s \(GET users/"):
        live.client(timeout=0.3).get_user("auth0|demo-ea")

    assert time.monotonic() - started < 0.9


def test_unknown_users_raise_user_not_found(live):
    client = live.client()

    for call in (
        lambda: client.get_user("auth0|nobody"),
        lambda: client.user_roles("auth0|nobody"),
        lambda: client.set_blocked("auth0|nobody", True),
        lambda: client.set_tier("auth0|nobody", Tier.EA),
    ):
        with pytest.raises(UserNotFound) as missing:
            call()
        assert missing.value.status == 404
        assert "The user does not exist." in str(missing.value)


def test_get_user_reads_auth0s_user_in_portal_terms(live):
    user = live.client().get_user("auth0|demo-admin")

    assert isinstance(user, RemoteUser)
    assert (user.email, user.name, user.blocked, user.roles) == (
        "admin@example.com",
        "Ada Admin",
        False,
        None,
    )
    assert user.picture.startswith("https://")
    assert user.created_at.tzinfo is None
    assert user.updated_at >= user.created_at


def test_search_pages_through_results_and_refuses_past_1000(live):
    live.store.import_users(people(1001, app_metadata={"x": 1}))
    client = live.client()

    some = list(client.search_users('email:"p00042@example.org"'))
    with pytest.raises(ManagementError, match=r"more than 1000 users match.*use export_users"):
        list(client.search_users("created_at:[2000-01-01 TO *]"))

    assert [u.email for u in some] == ["p00042@example.org"]


def test_updated_since_finds_changed_users_across_pages(live):
    old = datetime(2020, 1, 1)
    live.store.import_users(people(300, created_at=old, updated_at=old))
    since = datetime.utcnow() - timedelta(milliseconds=1)
    changed = [u.subject for u in live.store.list_users(offset=100, limit=150)]
    for subject in changed:
        live.store.update_user(subject, name="changed")

    found = list(live.client().updated_since(since))

    assert sorted(u.user_id for u in found) == sorted(changed)
    assert live.count("GET", "/idp/api/v2/users") == 2


def test_export_streams_every_user(live):
    live.store.import_users(people(2500, blocked=True))

    users = list(live.client().export_users(poll_interval=0.01))

    assert len(users) == len({u.user_id for u in users}) == 2504
    assert sum(u.blocked for u in users) == 2500
    assert all(isinstance(u.updated_at, datetime) for u in users)


def test_an_export_can_be_resumed_from_a_line(live):
    live.store.import_users(people(500))
    client = live.client()
    job_id, first = client.export_users_from(None, 0, poll_interval=0.01)
    head = [u.user_id for _, u in zip(range(120), first, strict=False)]

    same_job, rest = client.export_users_from(job_id, 120, poll_interval=0.01)
    tail = [u.user_id for u in rest]

    assert same_job == job_id
    assert len(head) == 120
    assert len(set(head + tail)) == len(head + tail) == 504
    assert live.count("POST", "/idp/api/v2/jobs/users-exports") == 1


def test_an_unknown_export_job_is_export_expired(live):
    _, users = live.client().export_users_from("job_gone", 0, poll_interval=0.01)

    with pytest.raises(ExportExpired):
        next(users)


def test_a_broken_export_file_is_a_management_error(live):
    live.idp.faults.add("/exports/*", status=200, body="not gzip at all")

    with pytest.raises(ManagementError, match="not a readable gzip file"):
        list(live.client().export_users(poll_interval=0.01))


def test_users_of_role_follows_checkpoints(live):
    live.store.import_users(people(250, roles=["devel"]))

    members = list(live.client().users_of_role("devel"))

    assert len(members) == len(set(members)) == 251
    assert live.count("GET", "/idp/api/v2/roles/") == 3
    with pytest.raises(ManagementError, match="no role named 'nope'"):
        list(live.client().users_of_role("nope"))


def test_role_ids_are_read_once_per_client(live):
    client = live.client()

    first, second = client.role_ids(), client.role_ids()

    assert first == second
    assert set(first) == {"admin", "devel", "ea"}
    assert live.count("GET", "/idp/api/v2/roles") == 1


def test_set_tier_changes_only_tier_roles(live):
    subject = "auth0|demo-admin"
    live.store.set_roles(subject, ["admin", "billing"])
    before = live.store.get_user(subject).updated_at
    client = live.client()

    client.set_tier(subject, Tier.DEVEL)
    as_devel = client.user_roles(subject)
    client.set_tier(subject, Tier.STABLE)

    assert sorted(as_devel) == ["billing", "devel"]
    assert live.store.get_user(subject).roles == ("billing",)
    assert live.store.get_user(subject).updated_at == before


def test_set_tier_assigns_the_mapped_role_and_passes_over_names_that_are_no_roles(live):
    subject = "auth0|demo-admin"
    live.store.create_role("Portal Admins")
    live.store.create_role("researchers-ea")
    live.store.set_roles(subject, ["Portal Admins", "billing"])
    client = live.client(
        tier_roles=TierRoles.parse("admin=Portal Admins;ea=researchers-ea,SSO Early Group")
    )

    client.set_tier(subject, Tier.EA)

    assert sorted(client.user_roles(subject)) == ["billing", "researchers-ea"]


def test_set_tier_refuses_a_tier_no_role_stands_for(live):
    client = live.client(tier_roles=TierRoles.parse("admin=admin"))

    with pytest.raises(ManagementError) as refused:
        client.set_tier("auth0|demo-admin", Tier.DEVEL)

    assert str(refused.value) == "no role stands for the devel tier; add one to PORTAL_TIER_ROLES"
    assert live.store.get_user("auth0|demo-admin").roles == ("admin",)


def test_set_tier_names_a_mapped_role_the_tenant_lacks(live):
    client = live.client(tier_roles=TierRoles.parse("admin=Portal Admins"))

    with pytest.raises(ManagementError, match="Auth0 has no role named 'Portal Admins'"):
        client.set_tier("auth0|demo-stable", Tier.ADMIN)


def test_set_blocked_blocks_and_unblocks(live):
    client = live.client()

    client.set_blocked("auth0|demo-ea", True)
    blocked = live.store.get_user("auth0|demo-ea").blocked
    client.set_blocked("auth0|demo-ea", False)

    assert blocked is True
    assert live.store.get_user("auth0|demo-ea").blocked is False


def test_refusals_name_the_request_and_auth0s_reason(live):
    body = json.dumps(
        {
            "statusCode": 400,
            "error": "Bad Request",
            "errorCode": "invalid_body",
            "message": "Payload validation error",
        }
    )
    live.idp.faults.add("/api/v2/users/*", status=400, body=body, method="PATCH")

    with pytest.raises(ManagementError) as refused:
        live.client().set_blocked("auth0|demo-ea", True)

    assert str(refused.value) == (
        "Auth0 refused PATCH users/auth0|demo-ea: 400 invalid_body: Payload validation error"
    )
    assert refused.value.status == 400


def test_count_users(live):
    live.store.import_users(people(12))

    assert live.client().count_users() == 16
