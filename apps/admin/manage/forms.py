"""Reading what an admin typed (a form field or a JSON member) into values, or a clear 422.

The HTML forms and the JSON API read the same fields through these, so both refuse the same
input with the same words.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from apps.admin.manage.errors import ConsoleError
from kit import TIER_NAMES, Tier


class InputError(ConsoleError):
    """The request was understood but a value in it is wrong (HTTP 422)."""

    def __init__(self, message: str) -> None:
        super().__init__(422, message)


def parse_tier(value: object) -> Tier:
    if not isinstance(value, str) or value not in TIER_NAMES:
        raise InputError(f"tier must be one of {', '.join(TIER_NAMES)}, not {value!r}.")
    return Tier(value)


def parse_date(name: str, value: str) -> date | None:
    """A calendar day (YYYY-MM-DD), as a date input sends it; empty means no limit."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name} must be a date like 2026-01-31, not {value!r}.") from None


def parse_expiry(value: object) -> datetime | None:
    """An expiry as naive UTC, the way the database keeps times.

    A time without a zone is read as UTC (the form says so); one with a zone is converted.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError("expires_at must be a date and time like 2026-01-31T18:00, or empty.")
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"expires_at must be a date and time like 2026-01-31T18:00, not {value!r}."
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def parse_moment(name: str, value: str) -> datetime | None:
    """A day or a day and time in UTC (`2026-01-31` or `2026-01-31T18:00`); empty means none."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{name} must be a date or a date and time like 2026-01-31T18:00, not {value!r}."
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def parse_grant_id(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise InputError(f"grant must be a grant's number, not {value!r}.")


def confirmed(value: object) -> bool:
    """Whether the admin answered the confirmation step (a button named `confirm`)."""
    return value in ("yes", True)
