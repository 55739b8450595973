"""Password guessing at the provider's login form: 429 with Retry-After, per account and address.

Time is a fake clock on the limiter, so windows pass without waiting and Retry-After is exact.
"""

from __future__ import annotations

import re

import pytest
from devidp_support import Idp, form_fields, make_settings, mount, query_of

from conftest import copy_seeded
from devidp import create_dev_idp

pytestmark = pytest.mark.unit

PAGE_MESSAGE = re.compile(r'<p class="message" role="alert">([^<]*)</p>')
LOCKED = "Too many failed sign-in attempts. Please wait 5 minutes before trying again."


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def with_clock(idp: Idp) -> Clock:
    clock = Clock()
    idp.app.extensions["devidp"].login_limiter.clock = clock
    return clock


def attempt(idp: Idp, email: str, password: str, address: str = "127.0.0.1"):
    """One sign-in through the form, from `address` (`prompt=login`: the form even when the
    browser is already signed in at the provider)."""
    page = idp.authorize(prompt="login")
    data = dict(form_fields(page.get_data(as_text=True)))
    data.update(email=email, password=password, sign_in="sign_in")
    return idp.browser.post("/idp/authorize", data=data, environ_base={"REMOTE_ADDR": address})


def fail(idp: Idp, times: int, email: str = "admin@example.com", address: str = "127.0.0.1"):
    statuses = [attempt(idp, email, "not-the-password", address).status_code for _ in range(times)]
    assert statuses == [401] * times


def message(response) -> str:
    return PAGE_MESSAGE.search(response.get_data(as_text=True)).group(1)


@pytest.fixture
def small_idp(db_path, seeded_db) -> Idp:
    """At most 3 failures a minute per address; accounts keep the default limit."""
    copy_seeded(seeded_db, db_path)
    app = create_dev_idp(
        make_settings(db_path, login_failures_per_address=3, login_address_window_seconds=60)
    )
    return Idp(app, mount(app))


def test_the_sixth_wrong_password_for_an_account_is_a_429_with_retry_after(idp):
    with_clock(idp)
    fail(idp, 5)

    response = attempt(idp, "admin@example.com", "not-the-password")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "300"


def test_the_429_page_explains_the_wait_and_keeps_the_form(idp):
    with_clock(idp)
    fail(idp, 5)

    response = attempt(idp, "admin@example.com", "another-guess")

    assert message(response) == LOCKED
    fields = dict(form_fields(response.get_data(as_text=True)))
    assert fields["email"] == "admin@example.com"
    assert fields["code_challenge"] == idp.last_params["code_challenge"]


def test_a_locked_account_refuses_even_the_right_password(idp):
    with_clock(idp)
    fail(idp, 5)

    response = attempt(idp, "admin@example.com", "admin")

    assert response.status_code == 429
    assert "Location" not in response.headers


def test_an_unknown_email_is_locked_exactly_like_a_real_one(idp):
    """Same status, words and wait: the lock never tells a guesser that an account exists."""
    with_clock(idp)
    fail(idp, 5, "admin@example.com")
    fail(idp, 5, "nobody@example.com")

    real = attempt(idp, "admin@example.com", "guess")
    unknown = attempt(idp, "nobody@example.com", "guess")

    assert (unknown.status_code, unknown.headers["Retry-After"], message(unknown)) == (
        real.status_code,
        real.headers["Retry-After"],
        message(real),
    )


def test_retry_after_counts_down_from_the_failure_that_keeps_the_limit(idp):
    clock = with_clock(idp)
    start = clock.now
    for second in range(5):
        clock.now = start + second
        fail(idp, 1)
    clock.now = start + 10

    response = attempt(idp, "admin@example.com", "admin")

    assert response.headers["Retry-After"] == "290"


def test_the_account_opens_again_once_the_window_has_passed(idp):
    clock = with_clock(idp)
    fail(idp, 5)
    clock.now += 300

    response = attempt(idp, "admin@example.com", "admin")

    assert response.status_code == 302
    assert "code" in query_of(response.headers["Location"])


def test_a_successful_sign_in_clears_the_account_failures(idp):
    with_clock(idp)
    fail(idp, 4)
    assert attempt(idp, "admin@example.com", "admin").status_code == 302
    fail(idp, 1)

    assert attempt(idp, "admin@example.com", "admin").status_code == 302


def test_one_account_locked_leaves_the_others_open(idp):
    with_clock(idp)
    fail(idp, 5, "admin@example.com")

    assert attempt(idp, "devel@example.com", "devel").status_code == 302


def test_failures_from_one_address_across_accounts_are_limited(small_idp):
    with_clock(small_idp)
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        fail(small_idp, 1, email, address="203.0.113.7")

    response = attempt(small_idp, "devel@example.com", "devel", address="203.0.113.7")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "60"
    assert message(response) == (
        "Too many failed sign-in attempts. Please wait 60 seconds before trying again."
    )


def test_a_limited_address_does_not_hold_back_other_addresses(small_idp):
    with_clock(small_idp)
    fail(small_idp, 3, "a@example.com", address="203.0.113.7")

    response = attempt(small_idp, "devel@example.com", "devel", address="198.51.100.9")

    assert response.status_code == 302


def test_zero_switches_both_limits_off(db_path, seeded_db):
    copy_seeded(seeded_db, db_path)
    app = create_dev_idp(
        make_settings(db_path, login_failures_per_account=0, login_failures_per_address=0)
    )
    idp = Idp(app, mount(app))

    fail(idp, 40)

    assert attempt(idp, "admin@example.com", "admin").status_code == 302


def test_every_process_sharing_the_store_sees_the_same_counts(idp, db_path):
    """Two providers on one store stand for two gunicorn workers."""
    other_app = create_dev_idp(make_settings(db_path))
    other = Idp(other_app, mount(other_app))
    with_clock(idp)
    with_clock(other)
    fail(idp, 5)

    response = attempt(other, "admin@example.com", "admin")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "300"
