"""The machine-to-machine token the Management API wants, fetched rarely and shared widely.

Auth0 counts and limits token requests (and bills machine-to-machine tokens), so a token is
fetched with ``client_credentials`` once and reused by every thread and every
:class:`~directory.management.ManagementClient` of the process with the same credentials, until a
minute before it expires.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from .management_common import ManagementError, error_fields, excerpt, retry_wait

#: Refetch this long before expiry, so a token never expires between check and use.
EXPIRY_MARGIN = 60.0
_RETRYABLE = frozenset({429, 500, 502, 503, 504})


class TokenSource:
    """A callable giving a valid bearer token, thread-safe, fetching only when needed."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        audience: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "audience": audience,
        }
        self.timeout = timeout
        self.max_retries = max_retries
        self._clock = clock
        self._lock = threading.Lock()
        self._token = ""
        self._refresh_at = 0.0

    def __call__(self) -> str:
        with self._lock:
            if not self._token or self._clock() >= self._refresh_at:
                self._token, lifetime = self._fetch()
                self._refresh_at = self._clock() + lifetime - EXPIRY_MARGIN
            return self._token

    def invalidate(self) -> None:
        """Forget the token (Auth0 refused it), so the next call fetches a new one."""
        with self._lock:
            self._token = ""

    def _fetch(self) -> tuple[str, float]:
        what = "POST oauth/token"
        for attempt in range(self.max_retries + 1):
            try:
                response = httpx.post(self.token_url, data=self._form, timeout=self.timeout)
            except httpx.TimeoutException:
                raise ManagementError(
                    f"Auth0 did not answer within {self.timeout:g} s ({what})"
                ) from None
            except httpx.HTTPError as error:
                raise ManagementError(f"Auth0 could not be reached ({what}): {error}") from None
            if response.status_code not in _RETRYABLE or attempt == self.max_retries:
                break
            time.sleep(retry_wait(response.headers, attempt))
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code != 200:
            code, message = error_fields(body)
            raise ManagementError(
                f"Auth0 refused {what}: {response.status_code} {code}: {message}",
                response.status_code,
            )
        token = body.get("access_token") if isinstance(body, dict) else None
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or not isinstance(lifetime, int | float):
            raise ManagementError(
                f"Auth0 answered {what} without a token and its lifetime: {excerpt(body)}",
                response.status_code,
            )
        return token, float(lifetime)


_shared: dict[tuple[str, str, str, str], TokenSource] = {}
_shared_lock = threading.Lock()


def shared_token_source(
    token_url: str,
    client_id: str,
    client_secret: str,
    audience: str,
    *,
    timeout: float,
    max_retries: int,
) -> TokenSource:
    """The process's one token source for these credentials (created on first use)."""
    key = (token_url, client_id, client_secret, audience)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = TokenSource(
                token_url,
                client_id,
                client_secret,
                audience,
                timeout=timeout,
                max_retries=max_retries,
            )
        return _shared[key]
