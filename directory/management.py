"""The portal's one client for Auth0's Management API; nothing else in the portal talks to it.

It speaks in the portal's terms (users, tiers, blocking) over the auth0-python SDK's low-level
``Auth0`` client, which is pointed at ``<issuer>/api/v2`` so the development provider (plain http,
mounted under a path) serves the same calls as a real tenant. The SDK retries 429 and 5xx answers
itself, honouring ``Retry-After`` and ``X-RateLimit-Reset`` (see ``max_retries``); this module
adds the shared machine-to-machine token, timeouts, and one error type for every failure:
:class:`ManagementError`, whose message names the request, e.g.
``Auth0 refused PATCH users/auth0|x: 400 invalid_body: ...``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import httpx
from auth0.management.client import Auth0
from auth0.management.core.api_error import ApiError
from auth0.management.core.parse_error import ParsingError
from auth0.management.errors import UnauthorizedError
from auth0.management.types import CreateExportUsersFields

from auth.tier_roles import DEFAULT_TIER_ROLES, TierRoles
from auth.tiers import Tier

from .management_common import (
    ExportExpired,
    ManagementError,
    RemoteUser,
    TooManyResults,
    UserNotFound,
    auth0_time,
    error_fields,
    excerpt,
    remote_user,
)
from .management_export import download_export
from .management_token import shared_token_source

__all__ = [
    "ExportExpired",
    "ManagementClient",
    "ManagementError",
    "RemoteUser",
    "TooManyResults",
    "UserNotFound",
]

T = TypeVar("T")
#: Auth0 pages through at most this many results of a search.
PAGING_CAP = 1000
EXPORT_FIELDS = ("user_id", "email", "name", "picture", "blocked", "created_at", "updated_at")


def _number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ManagementError(f"Auth0 answered {what} without a usable total: {value!r}")
    return int(value)


class DirectoryNotConfigured(RuntimeError):
    """The portal has no Management API credentials, so it can't read or change the directory;
    the message says which settings would give it some."""


class ManagementClient:
    """Thread-safe; build one per process (the token is shared per credentials anyway)."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        audience: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 5,
        tier_roles: TierRoles = DEFAULT_TIER_ROLES,
    ) -> None:
        base = issuer.rstrip("/")
        #: Which of the tenant's roles are tiers; any other role a user has is left alone.
        self.tier_roles = tier_roles
        self.api_url = base + "/api/v2"
        self.timeout = timeout
        self.max_retries = max_retries
        self._tokens = shared_token_source(
            base + "/oauth/token",
            client_id,
            client_secret,
            audience or self.api_url + "/",
            timeout=timeout,
            max_retries=max_retries,
        )
        self._http = httpx.Client(timeout=timeout)
        self._api = Auth0(
            base_url=self.api_url,
            token=self._tokens,
            timeout=timeout,
            max_retries=max_retries,
            httpx_client=self._http,
        )
        self._roles_lock = threading.Lock()
        self._role_ids: dict[str, str] | None = None

    def close(self) -> None:
        self._http.close()

    # -- the one place SDK calls are made -------------------------------------------------------

    def _call(
        self,
        what: str,
        call: Callable[[], T],
        not_found: type[ManagementError] = ManagementError,
        *,
        retried: bool = False,
    ) -> T:
        """Run one SDK call, turning every failure into a ManagementError about ``what``.

        A 401 means the cached token was refused (a rotated key, a changed grant): fetch a new
        one and try once more.
        """
        try:
            return call()
        except UnauthorizedError as error:
            if retried:
                raise self._refused(what, error, not_found) from None
            self._tokens.invalidate()
        except ApiError as error:
            raise self._refused(what, error, not_found) from None
        except ParsingError as error:
            raise ManagementError(
                f"Auth0 answered {what} in an unexpected shape: "
                f"{error.cause or excerpt(error.body)}",
                error.status_code,
            ) from None
        except httpx.TimeoutException:
            raise ManagementError(
                f"Auth0 did not answer within {self.timeout:g} s ({what})"
            ) from None
        except httpx.HTTPError as error:
            raise ManagementError(f"Auth0 could not be reached ({what}): {error}") from None
        return self._call(what, call, not_found, retried=True)

    @staticmethod
    def _refused(what: str, error: ApiError, not_found: type[ManagementError]) -> ManagementError:
        status = error.status_code
        if status is not None and 200 <= status < 300:
            return ManagementError(
                f"Auth0 answered {what} with malformed JSON: {excerpt(error.body)}", status
            )
        code, message = error_fields(error.body)
        kind = not_found if status == 404 else ManagementError
        return kind(f"Auth0 refused {what}: {status} {code}: {message}", status)

    # -- users -----------------------------------------------------------------------------------

    def get_user(self, user_id: str) -> RemoteUser:
        what = f"GET users/{user_id}"
        user = self._call(what, partial(self._api.users.get, user_id), UserNotFound)
        return remote_user(user.model_dump(), f"Auth0's answer to {what}")

    def set_blocked(self, user_id: str, blocked: bool) -> None:
        self._call(
            f"PATCH users/{user_id}",
            partial(self._api.users.update, user_id, blocked=blocked),
            UserNotFound,
        )

    def count_users(self) -> int:
        """How many users the tenant has (for progress bars: Auth0 may round large totals)."""
        page = self._call(
            "GET users", partial(self._api.users.list, page=0, per_page=1, include_totals=True)
        )
        return _number(page.response.total, "GET users")

    def search_users(self, query: str, per_page: int = 100) -> Iterator[RemoteUser]:
        """Users matching a Lucene ``query``, page by page, oldest first.

        Auth0 serves only the first 1000 results of a search, so a larger result raises
        ManagementError up front rather than silently returning part of it.
        """
        if not 1 <= per_page <= 100:
            raise ValueError("per_page must be between 1 and 100")
        reachable = PAGING_CAP - PAGING_CAP % per_page
        seen = 0
        for page in range(PAGING_CAP // per_page):
            what = f"GET users?q={query} (page {page})"
            result = self._call(
                what,
                partial(
                    self._api.users.list,
                    q=query,
                    page=page,
                    per_page=per_page,
                    include_totals=True,
                    sort="created_at:1",
                ),
            )
            total = _number(result.response.total, what)
            if total > reachable:
                raise TooManyResults(
                    f"more than {reachable} users match {query!r} ({total}): "
                    "Auth0 pages through only 1000; use export_users"
                )
            users = result.response.users or []
            for user in users:
                yield remote_user(user.model_dump(), f"Auth0's answer to {what}")
            seen += len(users)
            if len(users) < per_page or seen >= total:
                return

    def updated_since(self, since: datetime) -> Iterator[RemoteUser]:
        """Users changed at or after ``since`` (naive = UTC). Role changes do not count:
        Auth0 does not touch ``updated_at`` for them."""
        return self.search_users(f"updated_at:[{auth0_time(since)} TO *]")

    # -- roles -----------------------------------------------------------------------------------

    def role_ids(self) -> dict[str, str]:
        """Role name -> id, read once per client (roles are created rarely, by hand)."""
        with self._roles_lock:
            if self._role_ids is None:
                self._role_ids = self._read_roles()
            return dict(self._role_ids)

    def _read_roles(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for page in range(PAGING_CAP // 100):
            what = f"GET roles (page {page})"
            result = self._call(
                what, partial(self._api.roles.list, page=page, per_page=100, include_totals=True)
            )
            roles = result.response.roles or []
            for role in roles:
                if not isinstance(role.id, str) or not isinstance(role.name, str):
                    raise ManagementError(f"Auth0 answered {what} with a role without id/name")
                found[role.name] = role.id
            if len(roles) < 100:
                break
        return found

    def _role_id(self, role: str) -> str:
        role_id = self.role_ids().get(role)
        if role_id is None:
            raise ManagementError(f"Auth0 has no role named {role!r}; create it in the tenant")
        return role_id

    def user_roles(self, user_id: str) -> tuple[str, ...]:
        """Names of the roles assigned to the user directly."""
        names: list[str] = []
        for page in range(PAGING_CAP // 100):
            what = f"GET users/{user_id}/roles"
            result = self._call(
                what,
                partial(
                    self._api.users.roles.list,
                    user_id,
                    page=page,
                    per_page=100,
                    include_totals=True,
                ),
                UserNotFound,
            )
            roles = result.response.roles or []
            if not all(isinstance(role.name, str) for role in roles):
                raise ManagementError(f"Auth0 answered {what} with a role without a name")
            names.extend(role.name for role in roles)
            if len(roles) < 100:
                break
        return tuple(names)

    def users_of_role(self, role: str) -> Iterator[str]:
        """Ids of the users holding ``role`` (by name), with checkpoint paging: no 1000 cap."""
        role_id = self._role_id(role)
        checkpoint: str | None = None
        while True:
            what = f"GET roles/{role_id}/users"
            result = self._call(
                what, partial(self._api.roles.users.list, role_id, from_=checkpoint, take=100)
            )
            for member in result.response.users or []:
                if not isinstance(member.user_id, str) or not member.user_id:
                    raise ManagementError(f"Auth0 answered {what} with a member without user_id")
                yield member.user_id
            following = result.response.next
            if not following:
                return
            if following == checkpoint:
                raise ManagementError(f"Auth0 answered {what} with the same checkpoint twice")
            checkpoint = following

    def set_tier(self, user_id: str, tier: Tier) -> None:
        """Make the user's tier roles exactly ``tier``'s assigned role (none for stable); other
        roles stay.

        Every role standing for another tier is removed before the new one is added, so a
        failure half way leaves the user with less access, never more. A name that is no role
        of the tenant (a group from an enterprise connection, say) can't be removed this way
        and is passed over; the role to assign must exist.
        """
        assigned = self.tier_roles.assigned_role(tier)
        if tier is not Tier.STABLE and assigned is None:
            raise ManagementError(
                f"no role stands for the {tier.value} tier; add one to PORTAL_TIER_ROLES"
            )
        tenant = self.role_ids()
        keep = self.tier_roles.names.get(tier, ())
        others = [
            tenant[name]
            for name in self.tier_roles.role_names
            if name not in keep and name in tenant
        ]
        if others:
            self._call(
                f"DELETE users/{user_id}/roles",
                partial(self._api.users.roles.delete, user_id, roles=others),
                UserNotFound,
            )
        if assigned is not None:
            self._call(
                f"POST users/{user_id}/roles",
                partial(self._api.users.roles.assign, user_id, roles=[self._role_id(assigned)]),
                UserNotFound,
            )

    # -- export ----------------------------------------------------------------------------------

    def export_users(
        self, poll_interval: float = 1.0, timeout: float = 600
    ) -> Iterator[RemoteUser]:
        """Every user, through an export job (no 1000 cap), streamed in constant memory."""
        return self.export_users_from(None, 0, poll_interval=poll_interval, timeout=timeout)[1]

    def export_users_from(
        self, job_id: str | None, skip: int, *, poll_interval: float = 1.0, timeout: float = 600
    ) -> tuple[str, Iterator[RemoteUser]]:
        """Start an export (``job_id=None``) or go back to one, and read it from user ``skip``.

        Returns the job id at once (the job is created before this returns), so a caller can
        record it with its progress; after an interruption, call again with that id and the
        number of users already handled to continue where it stopped. The job is polled and
        its file downloaded only when the iterator is read. ExportExpired when Auth0 no longer
        has the job: start a new export then.
        """
        if job_id is None:
            fields = [CreateExportUsersFields(name=name) for name in EXPORT_FIELDS]
            job = self._call(
                "POST jobs/users-exports",
                partial(self._api.jobs.users_exports.create, format="json", fields=fields),
            )
            job_id = job.id
        return job_id, self._read_export(job_id, skip, poll_interval, timeout)

    def _read_export(
        self, job_id: str, skip: int, poll_interval: float, timeout: float
    ) -> Iterator[RemoteUser]:
        location = self._wait_for_export(job_id, poll_interval, timeout)
        yield from download_export(
            self._http,
            location,
            skip,
            what=f"export {job_id}",
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    def _wait_for_export(self, job_id: str, poll_interval: float, timeout: float) -> str:
        what = f"GET jobs/{job_id}"
        deadline = time.monotonic() + timeout
        while True:
            job = self._call(what, partial(self._api.jobs.get, job_id), ExportExpired)
            if job.status == "completed":
                if not isinstance(job.location, str) or not job.location:
                    raise ManagementError(f"Auth0 answered {what}: completed but no location")
                return job.location
            if job.status == "failed":
                raise ManagementError(
                    f"Auth0's export job {job_id} failed: {job.status_details or 'no details'}"
                )
            if time.monotonic() + poll_interval > deadline:
                raise ManagementError(
                    f"Auth0's export job {job_id} did not finish within "
                    f"{timeout:g} s (last status: {job.status})"
                )
            time.sleep(poll_interval)
