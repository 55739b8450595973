"""What every part of the Management API client shares: the portal's view of an Auth0 user,
the errors, reading untrusted user records, and how long to wait before a retry.

Everything Auth0 sends is checked here before the portal sees it, so a malformed answer becomes a
:class:`ManagementError` naming what was wrong instead of a ``KeyError`` deep in the sync.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: The longest single wait before a retry, whatever Auth0's headers say.
MAX_RETRY_WAIT = 30.0


@dataclass(frozen=True)
class RemoteUser:
    """A user as Auth0 has them, in the portal's terms."""

    user_id: str
    email: str
    name: str
    picture: str
    blocked: bool
    created_at: datetime | None  # naive UTC
    updated_at: datetime | None  # naive UTC
    roles: tuple[str, ...] | None = None  # role names; None when not fetched


class ManagementError(RuntimeError):
    """Auth0's Management API failed, refused, timed out or answered something unreadable.

    ``status`` is the HTTP status when there was an answer; the message names the request.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UserNotFound(ManagementError):
    """Auth0 has no user with this id (deleted there, or never existed)."""


class ExportExpired(ManagementError):
    """Auth0 no longer has this export job (jobs expire); start a new export."""


class TooManyResults(ManagementError):
    """A search matches more users than Auth0 pages through (1000); use the export instead."""


def excerpt(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def error_fields(body: Any) -> tuple[str, str]:
    """(errorCode or error, message) of an Auth0 error body; the raw text when not JSON."""
    if isinstance(body, Mapping):
        code = body.get("errorCode") or body.get("error") or ""
        message = body.get("message") or body.get("error_description") or ""
        return str(code), str(message)
    return "", excerpt(body)


def naive_utc(value: Any, field: str, where: str) -> datetime | None:
    """A timestamp Auth0 sent (ISO text or an already parsed datetime) as naive UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ManagementError(f"{where}: {field} is not a timestamp: {value!r}") from None
    if not isinstance(value, datetime):
        raise ManagementError(f"{where}: {field} is not a timestamp: {value!r}")
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _text(data: Mapping[str, Any], field: str, where: str) -> str:
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ManagementError(f"{where}: {field} is {type(value).__name__}, not text")
    return value


def remote_user(data: Any, where: str, roles: tuple[str, ...] | None = None) -> RemoteUser:
    """A RemoteUser from one user record, refusing records the portal cannot trust."""
    if not isinstance(data, Mapping):
        raise ManagementError(f"{where}: expected a user object, got {excerpt(data)}")
    user_id = data.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise ManagementError(f"{where}: a user without a user_id: {excerpt(dict(data))}")
    blocked = data.get("blocked", False)
    if not isinstance(blocked, bool | None):
        raise ManagementError(f"{where}: blocked of {user_id} is {blocked!r}, not true/false")
    return RemoteUser(
        user_id=user_id,
        email=_text(data, "email", where),
        name=_text(data, "name", where),
        picture=_text(data, "picture", where),
        blocked=bool(blocked),
        created_at=naive_utc(data.get("created_at"), "created_at", where),
        updated_at=naive_utc(data.get("updated_at"), "updated_at", where),
        roles=roles,
    )


def auth0_time(moment: datetime) -> str:
    """A datetime (naive = UTC) the way Auth0 writes them: ``2024-05-01T12:00:00.000Z``."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def retry_wait(headers: Mapping[str, str], attempt: int) -> float:
    """Seconds before retry ``attempt`` (0-based): ``Retry-After``, else ``X-RateLimit-Reset``,
    else exponential backoff with jitter; never more than :data:`MAX_RETRY_WAIT`.

    The same policy as the SDK's, for the two requests it does not make (token, download).
    """
    retry_after = headers.get("retry-after", "").strip()
    if re.fullmatch(r"\d+", retry_after):
        wait = float(retry_after)
    elif re.fullmatch(r"\d+", headers.get("x-ratelimit-reset", "").strip()):
        wait = int(headers["x-ratelimit-reset"]) - time.time() + random.uniform(0, 0.2)
    else:
        wait = 2.0**attempt * random.uniform(0.9, 1.1)
    return min(max(wait, 0.05), MAX_RETRY_WAIT)
