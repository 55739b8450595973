"""The console's changes, one function each, shared by the HTML forms, bulk actions and the API.

Each goes through `UserAdmin` (an intent, Auth0, then the table and the audit log) and either
returns a sentence saying what happened or raises ConsoleError with the exact reason it did not,
or that the change is pending.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from apps.admin.manage.context import actor, services, source
from apps.admin.manage.errors import ConsoleError
from apps.admin.manage.formatting import when
from apps.admin.manage.forms import InputError
from db.models import Grant, User, utcnow
from db.users import active_grants
from directory.management import DirectoryNotConfigured
from directory.user_admin import AdminError, ChangePending
from kit import Tier


@dataclass(frozen=True)
class Result:
    """One user's outcome in a bulk action."""

    subject: str
    label: str
    ok: bool
    message: str


def label(user: User) -> str:
    return f"{user.name} ({user.email})" if user.name and user.email else user.email or user.subject


@contextmanager
def _refusals() -> Iterator[None]:
    """UserAdmin's refusals as console answers: a rule or Auth0 said no, nothing to ask, or a
    change that is pending (made in Auth0, or maybe made, and not yet here)."""
    try:
        yield
    except ChangePending as error:
        raise ConsoleError(503, str(error), "change_pending") from error
    except AdminError as error:
        raise ConsoleError(409, str(error)) from error
    except DirectoryNotConfigured as error:
        raise ConsoleError(503, str(error)) from error


def find_user(subject: str) -> User:
    with services().database.transaction() as db:
        user = db.scalars(select(User).where(User.subject == subject)).one_or_none()
    if user is None:
        raise ConsoleError(404, f"There is no user {subject!r}.")
    return user


def lowers(user: User, tier: Tier) -> bool:
    """Whether moving `user` to `tier` takes access away, which needs a confirmation first."""
    return Tier.parse(user.tier).rank > tier.rank


def makes_admin(user: User, tier: Tier) -> bool:
    """Whether moving `user` to `tier` makes them an admin, which needs a confirmation first."""
    return tier is Tier.ADMIN and user.tier != Tier.ADMIN.value


def change_tier(subject: str, tier: Tier) -> str:
    user = find_user(subject)
    if user.tier == tier.value:
        return f"{label(user)} already has the {tier.label} tier ({tier.value}); nothing changed."
    with _refusals():
        services().user_admin().set_tier(user.subject, tier, actor=actor(), source=source())
    return f"{label(user)} now has the {tier.label} tier ({tier.value})."


def set_blocked(subject: str, blocked: bool) -> str:
    user = find_user(subject)
    with _refusals():
        services().user_admin().set_blocked(user.subject, blocked, actor=actor(), source=source())
    if blocked:
        return f"{label(user)} is blocked, and every session they had open has ended."
    return f"{label(user)} is unblocked and may sign in again."


def end_sessions(subject: str) -> str:
    user = find_user(subject)
    with _refusals():
        ended = services().user_admin().end_sessions(user.subject, actor=actor(), source=source())
    noun = "session" if ended == 1 else "sessions"
    return f"Ended {ended} open {noun} of {label(user)}."


def grant(subject: str, product: str, expires_at: datetime | None) -> tuple[Grant, str]:
    """Give one user one product above their tier; refuses grants that would change nothing."""
    user = find_user(subject)
    if expires_at is not None and expires_at <= utcnow():
        raise InputError(f"The expiry must be in the future; {when(expires_at)} has passed.")
    known = {p.info.key: p for p in services().products().products}
    if product not in known:
        raise InputError(f"There is no product {product!r}; products are {', '.join(known)}.")
    if known[product].info.tier is Tier.ADMIN:
        raise InputError(
            f"{product} is an admin-tier product: only the admin tier opens it, so change the "
            "tier instead (the admin safeguards and Auth0's roles then apply)."
        )
    if Tier.parse(user.tier).opens(known[product].info.tier):
        raise InputError(
            f"The {user.tier} tier of {label(user)} already opens {product}; no grant is needed."
        )
    with services().database.transaction() as db:
        if product in active_grants(db, user.id, utcnow()):
            raise ConsoleError(409, f"{label(user)} already has an active grant for {product}.")
    with _refusals():
        made = (
            services()
            .user_admin()
            .grant(user.subject, product, expires_at=expires_at, actor=actor(), source=source())
        )
    until = f"until {when(expires_at)}" if expires_at else "with no expiry"
    return made, f"{label(user)} may now open {product}, {until}."


def revoke_grant(grant_id: int, subject: str | None = None) -> str:
    """Revoke a grant; with `subject`, only one of that user's (the form names both)."""
    with services().database.transaction() as db:
        found = db.get(Grant, grant_id)
        owner = db.get(User, found.user_id) if found is not None else None
    if found is None or owner is None or (subject is not None and owner.subject != subject):
        whose = f" of {subject!r}" if subject else ""
        raise ConsoleError(404, f"There is no grant {grant_id}{whose}.")
    with _refusals():
        services().user_admin().revoke_grant(grant_id, actor=actor(), source=source())
    return f"Revoked the grant of {found.product} to {label(owner)}."


def for_each(subjects: Iterable[str], change: Callable[[str], str]) -> list[Result]:
    """Apply one change to several users, each on its own: one refusal stops no one else."""
    results = []
    for subject in subjects:
        name = subject
        try:
            name = label(find_user(subject))
            message = change(subject)
        except ConsoleError as error:
            results.append(Result(subject, name, False, error.message))
            continue
        results.append(Result(subject, name, True, message))
    return results
