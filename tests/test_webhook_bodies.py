"""The Auth0 webhook refuses malformed bodies with a 400 that says why, and writes nothing.

Each body below comes with the right secret, so only its shape decides. None may reach a 500,
and none may change the users table or the audit log.
"""

import pytest
import requests
from sqlalchemy import func, select

from db.models import AuditEvent, User
from directory.webhook import MAX_BODY_BYTES
from tests.support.live import WEBHOOK_SECRET

pytestmark = pytest.mark.site

HEADERS = {"Authorization": f"Bearer {WEBHOOK_SECRET}", "Content-Type": "application/json"}


def post(portal, raw: bytes) -> requests.Response:
    return requests.post(
        portal.base_url + "/api/hooks/auth0", data=raw, headers=HEADERS, timeout=10
    )


def counts(portal) -> tuple[int, int]:
    with portal.services.database.transaction() as db:
        return (
            db.scalar(select(func.count()).select_from(User)),
            db.scalar(select(func.count()).select_from(AuditEvent)),
        )


BODIES = [
    (b'[{"data": null}]', "event 0 has no data object"),
    (b'[{"data": "x"}]', "event 0 has no data object"),
    (b'[{"data": [1]}]', "event 0 has no data object"),
    (b"[1,2,3]", "event 0 is not a JSON object"),
    (b"[]", "the body names no user"),
    (b'[{"data": {"type": "s"}}]', "the body names no user"),
    (b"[" * 10_000 + b"]" * 10_000, "The body is nested deeper than 32 levels."),
    (b'{"user_ids": ' + b"[" * 40 + b"]" * 40 + b"}", "The body is nested deeper than 32 levels."),
    (
        b'{"user_id": "\\ud800"}',
        "user ids must be printable text (no control characters or lone surrogates)",
    ),
    (
        b'{"user_id": "auth0|a\\u0000b"}',
        "user ids must be printable text (no control characters or lone surrogates)",
    ),
    (b'{"user_ids": "auth0|x"}', "user ids must be non-empty strings of at most 255 characters"),
    (b"\xff\xfe{}", "The body is not valid JSON."),
    (b"x" * (MAX_BODY_BYTES + 1), "The body is larger than 256 KiB."),
]


@pytest.mark.parametrize(
    ("raw", "message"), BODIES, ids=[raw[:24].decode("latin-1") for raw, _ in BODIES]
)
def test_a_malformed_body_is_a_400_that_says_why_and_writes_nothing(portal, raw, message):
    before = counts(portal)
    answer = post(portal, raw)
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "bad_request", "message": message},
    )
    assert counts(portal) == before
