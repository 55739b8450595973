"""The users table's query: search, filters, sorting and keyset paging that stay fast at 100,000.

Search is by prefix (`ada` finds `ada@...` and `Ada Lovelace`) so it can use the email and name
indexes, plus an exact Auth0 user id. Pages are found by keyset (the sort value and id of the last
row shown), never by OFFSET, so page 2,000 costs what page 1 does; and the match count stops at
`COUNT_CAP`, because counting every row of a large table is the slow part of a page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from apps.admin.manage.forms import InputError, parse_date
from db.models import User
from kit import TIER_NAMES

COUNT_CAP = 1_000
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
SORTS: dict[str, InstrumentedAttribute] = {
    "email": User.email,
    "name": User.name,
    "tier": User.tier,
    "last_login": User.last_login_at,
    "created": User.created_at,
}
CHOICES = {
    "blocked": ("", "yes", "no"),
    "deleted": ("no", "yes", "any"),
}


@dataclass(frozen=True)
class UserFilter:
    """What the admin asked for; the same fields as the form's and the API's query string."""

    q: str = ""
    tier: str = ""
    blocked: str = ""
    deleted: str = "no"
    login_after: str = ""
    login_before: str = ""
    sort: str = "email"
    order: str = "asc"
    per_page: int = DEFAULT_PAGE_SIZE
    after: str = ""
    before: str = ""
    start: int = 0

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> UserFilter:
        """Parse a query string; InputError names the first field that is wrong."""
        values = {key: (args.get(key) or "").strip() for key in cls.__dataclass_fields__}
        chosen = cls(
            q=values["q"][:320],
            tier=_one_of("tier", values["tier"], ("", *TIER_NAMES)),
            blocked=_one_of("blocked", values["blocked"], CHOICES["blocked"]),
            deleted=_one_of("deleted", values["deleted"] or "no", CHOICES["deleted"]),
            login_after=values["login_after"],
            login_before=values["login_before"],
            sort=_one_of("sort", values["sort"] or "email", tuple(SORTS)),
            order=_one_of("order", values["order"] or "asc", ("asc", "desc")),
            per_page=_page_size(values["per_page"]),
            after=values["after"],
            before=values["before"],
            start=int(values["start"]) if values["start"].isdigit() else 0,
        )
        parse_date("login_after", chosen.login_after)
        parse_date("login_before", chosen.login_before)
        return chosen

    def query_args(self, **changes: object) -> dict[str, object]:
        """This filter as query-string arguments (defaults left out), with `changes` applied."""
        changed = replace(self, **changes)  # type: ignore[arg-type]
        defaults = UserFilter()
        return {
            key: getattr(changed, key)
            for key in self.__dataclass_fields__
            if getattr(changed, key) != getattr(defaults, key)
        }


@dataclass
class UserPage:
    users: list[User]
    matches: int
    capped: bool
    start: int
    next_cursor: str | None = None
    prev_cursor: str | None = None
    filters: UserFilter = field(default_factory=UserFilter)


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        shown = ", ".join(a for a in allowed if a) or "none"
        raise InputError(f"{name} must be one of {shown}, not {value!r}.")
    return value


def _page_size(value: str) -> int:
    if not value:
        return DEFAULT_PAGE_SIZE
    if not value.isdigit() or int(value) not in PAGE_SIZES:
        raise InputError(f"per_page must be one of {', '.join(map(str, PAGE_SIZES))}.")
    return int(value)


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def conditions(chosen: UserFilter) -> list[ColumnElement[bool]]:
    """The WHERE clause of a filter, each part on an indexed column where one exists."""
    where: list[ColumnElement[bool]] = []
    if chosen.q:
        prefix = _like_prefix(chosen.q)
        where.append(
            or_(
                User.email.like(prefix, escape="\\"),
                User.name.like(prefix, escape="\\"),
                User.subject == chosen.q,
            )
        )
    if chosen.tier:
        where.append(User.tier == chosen.tier)
    if chosen.blocked:
        where.append(User.blocked.is_(chosen.blocked == "yes"))
    if chosen.deleted == "no":
        where.append(User.deleted_at.is_(None))
    elif chosen.deleted == "yes":
        where.append(User.deleted_at.is_not(None))
    after = parse_date("login_after", chosen.login_after)
    if after is not None:
        where.append(User.last_login_at >= datetime.combine(after, time.min))
    before = parse_date("login_before", chosen.login_before)
    if before is not None:
        where.append(User.last_login_at < datetime.combine(before, time.min))
    return where


def encode_cursor(user: User, sort: str) -> str:
    value = getattr(user, SORTS[sort].key)
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, user.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[object, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, ident = json.loads(raw)
        if not isinstance(ident, int) or not (value is None or isinstance(value, str)):
            raise ValueError
        if value is not None and SORTS[sort].key.endswith("_at"):
            value = datetime.fromisoformat(value)
    except (ValueError, TypeError, binascii.Error):
        raise InputError("The page link is damaged; start again from the first page.") from None
    return value, ident


def _beyond(column: InstrumentedAttribute, value: object, ident: int, descending: bool) -> object:
    """Rows strictly past (value, id) in the order `column, id`, with NULL as the lowest value."""
    if not descending:
        if value is None:
            return or_(and_(column.is_(None), User.id > ident), column.is_not(None))
        return or_(column > value, and_(column == value, User.id > ident))
    if value is None:
        return and_(column.is_(None), User.id < ident)
    return or_(column < value, and_(column == value, User.id < ident), column.is_(None))


def _ordered(query: Select, column: InstrumentedAttribute, descending: bool) -> Select:
    if descending:
        return query.order_by(column.desc(), User.id.desc())
    return query.order_by(column.asc(), User.id.asc())


def count_matches(db: Session, where: list[ColumnElement[bool]]) -> tuple[int, bool]:
    """How many users match, counting no further than COUNT_CAP (True when it stopped there)."""
    limited = select(User.id).where(*where).limit(COUNT_CAP + 1).subquery()
    found = db.scalar(select(func.count()).select_from(limited)) or 0
    return min(found, COUNT_CAP), found > COUNT_CAP


def find_users(db: Session, chosen: UserFilter) -> UserPage:
    """One page of users: the first, or the one after `after`, or the one before `before`."""
    where = conditions(chosen)
    column = SORTS[chosen.sort]
    descending = chosen.order == "desc"
    size = chosen.per_page
    if chosen.before:
        value, ident = decode_cursor(chosen.before, chosen.sort)
        query = select(User).where(*where, _beyond(column, value, ident, not descending))
        rows = list(db.scalars(_ordered(query, column, not descending).limit(size + 1)))
        if len(rows) <= size:
            return find_users(db, replace(chosen, before="", after="", start=0))
        users = list(reversed(rows[:size]))
        has_prev, has_next = True, True
    else:
        query = select(User).where(*where)
        if chosen.after:
            value, ident = decode_cursor(chosen.after, chosen.sort)
            query = query.where(_beyond(column, value, ident, descending))
        rows = list(db.scalars(_ordered(query, column, descending).limit(size + 1)))
        users = rows[:size]
        has_prev, has_next = bool(chosen.after), len(rows) > size
    matches, capped = count_matches(db, where)
    start = chosen.start if has_prev else 0
    return UserPage(
        users=users,
        matches=matches,
        capped=capped,
        start=start,
        next_cursor=encode_cursor(users[-1], chosen.sort) if has_next and users else None,
        prev_cursor=encode_cursor(users[0], chosen.sort) if has_prev and users else None,
        filters=chosen,
    )
