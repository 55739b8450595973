"""What Auth0 sends the portal's webhook when users change, read strictly.

Auth0 reaches `POST /api/hooks/auth0` from a Log Stream (custom webhook) or an Action. The body
only names users; their data is never taken from it but re-read from the Management API, so a
leaked secret can trigger a re-read at most. Accepted bodies: `{"user_id": "..."}`,
`{"user_ids": [...]}`, or a Log Stream batch (a list of events whose `data.user_id` names the
user). Anything else is refused with what is wrong, before anything is read or written: a body
over `MAX_BODY_BYTES` or nested deeper than `MAX_DEPTH`, text that is not UTF-8 JSON, events that
are not objects, user ids that are not printable text.
"""

from __future__ import annotations

import json

MAX_USERS_PER_CALL = 100
#: A Log Stream batch is at most a few hundred KiB; Auth0's events nest about six levels deep.
MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_ID_LENGTH = 255


class BadBody(ValueError):
    pass


def parse_body(raw: bytes) -> object:
    """The body as JSON, refusing what is too big or too deep to be a real Auth0 call."""
    if len(raw) > MAX_BODY_BYTES:
        raise BadBody(f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.")
    try:
        body = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise BadBody(f"The body is nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError:
        raise BadBody("The body is not valid JSON.") from None
    if _depth(body) > MAX_DEPTH:
        raise BadBody(f"The body is nested deeper than {MAX_DEPTH} levels.")
    return body


def _depth(value: object) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return deepest


def user_ids_from(body: object) -> list[str]:
    if isinstance(body, dict) and "user_id" in body:
        ids = [body["user_id"]]
    elif isinstance(body, dict) and "user_ids" in body:
        ids = body["user_ids"]
    elif isinstance(body, list):
        ids = _log_stream_ids(body)
    else:
        raise BadBody('expected {"user_id": ...}, {"user_ids": [...]} or a Log Stream batch')
    if not isinstance(ids, list) or not all(
        isinstance(i, str) and 0 < len(i) <= MAX_ID_LENGTH for i in ids
    ):
        raise BadBody(f"user ids must be non-empty strings of at most {MAX_ID_LENGTH} characters")
    if not all(_printable(i) for i in ids):
        raise BadBody("user ids must be printable text (no control characters or lone surrogates)")
    if not ids:
        raise BadBody("the body names no user")
    if len(ids) > MAX_USERS_PER_CALL:
        raise BadBody(f"at most {MAX_USERS_PER_CALL} users per call")
    return list(dict.fromkeys(ids))


def _log_stream_ids(events: list) -> list:
    """`data.user_id` of each event; events about no user (a failed sign-in) are skipped."""
    ids = []
    for number, event in enumerate(events):
        if not isinstance(event, dict):
            raise BadBody(f"event {number} is not a JSON object")
        data = event.get("data")
        if not isinstance(data, dict):
            raise BadBody(f"event {number} has no data object")
        if data.get("user_id") is not None:
            ids.append(data["user_id"])
    return ids


def _printable(value: str) -> bool:
    """Text that can be stored and shown: no control characters, no lone surrogates."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return value.isprintable()
