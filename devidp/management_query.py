"""Reading Management API requests the way Auth0 reads them, and writing users the way it does.

Only the part of Auth0's Lucene user search the portal needs is understood (``field:value``
terms joined by ``AND``; ranges on ``created_at``/``updated_at``); anything else is refused with
Auth0's 400, never silently matched differently.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import request

from .directory import SEARCHABLE_FIELDS, Criterion, DevIdpRole, DevIdpUser, to_ms
from .management_http import Auth0Error

#: Auth0 refuses to page past this many results of a search; an export job reads the rest.
PAGING_CAP = 1000
PAGING_REFUSAL = (
    "You can only page through the first 1000 records. "
    "See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation"
)
_RANGE_FIELDS = frozenset({"created_at", "updated_at"})
_TERM = re.compile(r'(?P<field>[A-Za-z_]+):(?P<value>"[^"]*"|[\[{][^\]}]*[\]}]|[^\s"\[{]+)')
_AND = re.compile(r"\s+AND\s+")
_RANGE = re.compile(r"^(?P<open>[\[{])\s*(?P<low>\S+)\s+TO\s+(?P<high>\S+)\s*(?P<close>[\]}])$")
_SORTABLE = frozenset({"user_id", "email", "name", "created_at", "updated_at"})


def query_error(message: str) -> Auth0Error:
    return Auth0Error(400, message, "invalid_query_string")


def int_arg(name: str, default: int, maximum: int | None = None, minimum: int = 0) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not re.fullmatch(r"-?\d{1,9}", raw):
        raise query_error(
            f"Query validation error: 'Expected type integer but found type string'"
            f" on property {name}."
        )
    value = int(raw)
    if value < minimum:
        raise query_error(
            f"Query validation error: 'Value {value} is less than minimum"
            f" {minimum}' on property {name}."
        )
    if maximum is not None and value > maximum:
        raise query_error(
            f"Query validation error: 'Value {value} is greater than maximum"
            f" {maximum}' on property {name}."
        )
    return value


def bool_arg(name: str, default: bool = False) -> bool:
    raw = request.args.get(name, "").lower()
    if raw in ("", "true", "false"):
        return default if raw == "" else raw == "true"
    raise query_error(
        f"Query validation error: 'Expected type boolean but found type string' on property {name}."
    )


def page_window(per_page_max: int = 100) -> tuple[int, int]:
    """(offset, limit) of ``page``/``per_page``, refused past the first 1000 like Auth0."""
    page = int_arg("page", 0)
    per_page = int_arg("per_page", 50, maximum=per_page_max)
    if (page + 1) * per_page > PAGING_CAP:
        raise Auth0Error(400, PAGING_REFUSAL, "invalid_paging")
    return page * per_page, per_page


def parse_time(value: str) -> int | None:
    """Milliseconds of an ISO date or time (naive = UTC); None for ``*``."""
    value = value.strip('"')
    if value == "*":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise query_error(f"Query validation error: {value!r} is not a date") from None
    return to_ms(moment)


def _criterion(name: str, value: str) -> Criterion:
    if name not in SEARCHABLE_FIELDS:
        raise query_error(
            f"Query validation error: cannot search on {name!r} here; "
            f"searchable: {', '.join(sorted(SEARCHABLE_FIELDS))}"
        )
    if name in _RANGE_FIELDS:
        match = _RANGE.match(value)
        if not match:
            raise query_error(
                f"Query validation error: search {name} with a range, "
                f"e.g. {name}:[2024-01-01T00:00:00.000Z TO *]"
            )
        return Criterion(
            name,
            low=parse_time(match["low"]),
            high=parse_time(match["high"]),
            low_inclusive=match["open"] == "[",
            high_inclusive=match["close"] == "]",
        )
    if value[0] in "[{":
        raise query_error(f"Query validation error: ranges are not supported on {name}")
    text = value.strip('"')
    if "*" in text or "?" in text:
        raise query_error(f"Query validation error: wildcards are not supported on {name}")
    if name == "blocked":
        if text not in ("true", "false"):
            raise query_error("Query validation error: blocked is true or false")
        return Criterion(name, equals=text == "true")
    return Criterion(name, equals=text.lower() if name == "email" else text)


def parse_search(q: str) -> list[Criterion]:
    """The criteria of ``q`` (``email:"a@b.c" AND updated_at:[2024-01-01 TO *]``)."""
    q = q.strip()
    criteria: list[Criterion] = []
    position = 0
    while position < len(q):
        term = _TERM.match(q, position)
        if term is None:
            raise query_error(f"Query validation error: cannot read {q[position:]!r}")
        criteria.append(_criterion(term["field"], term["value"]))
        position = term.end()
        joiner = _AND.match(q, position)
        if joiner:
            position = joiner.end()
        elif position < len(q):
            raise query_error("Query validation error: join terms with ' AND '")
    return criteria


def parse_sort(value: str | None) -> tuple[str, bool]:
    """(field, descending) of ``sort=field:1|-1``; by creation when absent."""
    if not value:
        return "created_at", False
    name, _, order = value.partition(":")
    if name not in _SORTABLE or order not in ("1", "-1"):
        raise query_error(
            f"Query validation error: sort must be one of "
            f"{', '.join(sorted(_SORTABLE))} followed by :1 or :-1"
        )
    return name, order == "-1"


def iso(moment: datetime | None) -> str | None:
    """Auth0's timestamp format: UTC, milliseconds, ``Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def user_json(user: DevIdpUser) -> dict[str, Any]:
    """A user as ``GET /api/v2/users/{id}`` shows one (roles are not part of it in Auth0)."""
    provider, _, local_id = user.subject.rpartition("|")
    return {
        "user_id": user.subject,
        "email": user.email,
        "email_verified": True,
        "name": user.name,
        "nickname": user.email.split("@", 1)[0],
        "picture": user.picture,
        "created_at": iso(user.created_at),
        "updated_at": iso(user.updated_at),
        "identities": [
            {
                "connection": "Username-Password-Authentication",
                "provider": provider or "auth0",
                "user_id": local_id,
                "isSocial": False,
            }
        ],
        "app_metadata": user.app_metadata,
        "blocked": user.blocked,
    }


def selected_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Honour ``fields``/``include_fields`` of a users request."""
    names = [n for n in request.args.get("fields", "").split(",") if n]
    if not names:
        return body
    include = bool_arg("include_fields", True)
    return {k: v for k, v in body.items() if (k in names) == include}


def role_json(role: DevIdpRole) -> dict[str, str]:
    return {"id": role.id, "name": role.name, "description": role.description}


def role_member_json(user: DevIdpUser) -> dict[str, str]:
    return {
        "user_id": user.subject,
        "email": user.email,
        "name": user.name,
        "picture": user.picture,
    }
