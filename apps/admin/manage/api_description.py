"""The console's JSON API, described: the models its answers, bodies and query strings follow.

`views/api.py` names them through `CONSOLE_API.describe`; the document is served at
`<console>/api/openapi.json` (admins only, as all of the console: the Gate lets no one else in).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from kit.openapi import ErrorAnswer, JsonApi

CONSOLE_API = JsonApi(
    "Admin console API",
    "1.0.0",
    "Users, tiers, blocks, sessions, grants, products, the Auth0 sync and the audit log. With "
    "the portal's session cookie a change needs the CSRF token (`GET api/csrf`) in an "
    "`X-CSRFToken` header; with a bearer token holding the admin scope it needs none.",
)

TierName = Literal["admin", "devel", "ea", "stable"]

#: What every console route may answer besides its own: a malformed or forged request, no
#: sign-in, no admin tier (both the Gate's), the database or the directory unavailable.
REFUSALS: dict[int, type[BaseModel]] = {
    400: ErrorAnswer,
    401: ErrorAnswer,
    403: ErrorAnswer,
    503: ErrorAnswer,
}


def answers(
    ok: type[BaseModel], *refusals: int, status: int = 200
) -> dict[int, type[BaseModel] | None]:
    """A route's answers: `ok` under `status`, the common refusals and its own ones."""
    return {status: ok, **REFUSALS, **dict.fromkeys(refusals, ErrorAnswer)}


class CsrfToken(BaseModel):
    csrf_token: str = Field(description="send it back in the X-CSRFToken header")


class UserAnswer(BaseModel):
    subject: str = Field(description="the identity provider's user id")
    email: str
    name: str
    picture: str
    tier: TierName
    roles: list[str] = Field(description="the identity provider's roles, as it names them")
    blocked: bool
    deleted: bool
    created_at: datetime | None
    updated_at: datetime | None
    last_login_at: datetime | None
    last_synced_at: datetime | None
    deleted_at: datetime | None


class UserQuery(BaseModel):
    """The users list's filters, sort and page: the same as the Users page's query string."""

    q: str | None = Field(default=None, description="part of an email or a name")
    tier: TierName | None = None
    blocked: Literal["yes", "no"] | None = None
    deleted: Literal["no", "yes", "any"] | None = None
    login_after: str | None = Field(default=None, description="a day, YYYY-MM-DD")
    login_before: str | None = Field(default=None, description="a day, YYYY-MM-DD")
    sort: Literal["email", "name", "tier", "last_login", "created"] | None = None
    order: Literal["asc", "desc"] | None = None
    per_page: Literal[25, 50, 100, 200] | None = None
    after: str | None = Field(default=None, description="the `next` cursor of a page")
    before: str | None = Field(default=None, description="the `prev` cursor of a page")
    start: int | None = Field(default=None, ge=0, description="the first row's number")


class UserList(BaseModel):
    users: list[UserAnswer]
    matches: int = Field(description="how many users match (counted up to a cap)")
    capped: bool = Field(description="more users match than were counted")
    next: str | None
    prev: str | None


class SessionAnswer(BaseModel):
    created_at: datetime | None
    last_seen_at: datetime | None
    expires_at: datetime | None
    user_agent: str | None
    ip_address: str | None


class GrantAnswer(BaseModel):
    id: int
    product: str = Field(description="the product's key, like devel/inspector")
    granted_by: str
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    state: Literal["active", "expired", "revoked"]


class EventAnswer(BaseModel):
    id: int
    occurred_at: datetime | None
    actor: str
    action: str
    target: str | None
    source: str
    details: dict[str, object] | None


class UserDetail(BaseModel):
    user: UserAnswer
    sessions: list[SessionAnswer] = Field(description="the user's open sessions")
    grants: list[GrantAnswer] = Field(description="every grant the user had")
    audit: list[EventAnswer] = Field(description="the latest events by or about the user")


class TierChange(BaseModel):
    tier: TierName


class UserChanged(BaseModel):
    message: str
    user: UserAnswer


class GrantRequest(BaseModel):
    product: str = Field(description="the product's key, like devel/inspector")
    expires_at: datetime | None = Field(default=None, description="UTC when without a zone")


class GrantMade(BaseModel):
    message: str
    grant: GrantAnswer


class Done(BaseModel):
    message: str


class BulkRequest(BaseModel):
    subjects: list[str] = Field(min_length=1, max_length=200)
    action: Literal["tier", "block", "unblock"]
    tier: TierName | None = Field(default=None, description="for action tier")


class BulkResult(BaseModel):
    subject: str
    ok: bool
    message: str


class BulkResults(BaseModel):
    results: list[BulkResult]


class ProductAnswer(BaseModel):
    key: str
    tier: TierName
    name: str
    title: str
    mount_path: str
    status: Literal["loaded", "broken", "excluded"]
    error: str | None
    users_by_tier: int | None = Field(description="users whose tier opens it (if served)")
    users_by_grant: int | None = Field(description="users a grant lets in above their tier")


class ProductList(BaseModel):
    products: list[ProductAnswer]


class SyncRunAnswer(BaseModel):
    id: int
    mode: str
    status: str
    live: bool
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    created: int | None
    updated: int | None
    deleted: int | None
    unchanged: int | None
    failed: int | None
    error: str | None
    phase: str | None
    done: int | None
    total: int | None
    percent: int | None


class SyncSchedule(BaseModel):
    enabled: bool
    every_minutes: int
    last_at: datetime | None
    next_at: datetime | None


class SyncStatus(BaseModel):
    runs: list[SyncRunAnswer]
    schedule: SyncSchedule


class SyncStarted(BaseModel):
    message: str
    status_url: str


class AuditQuery(BaseModel):
    actor: str | None = Field(default=None, description="a user id or an email")
    target: str | None = Field(default=None, description="a user id or an email")
    action: str | None = Field(default=None, description="an action; ending in `.`, a prefix")
    since: str | None = Field(default=None, description="a moment, ISO 8601")
    until: str | None = Field(default=None, description="a moment, ISO 8601")
    older: str | None = Field(default=None, description="the `older` cursor of a page")


class AuditPage(BaseModel):
    events: list[EventAnswer]
    older: str | None = Field(description="the cursor of the next, older page")
