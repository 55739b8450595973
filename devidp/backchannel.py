"""OpenID Connect Back-Channel Logout 1.0, the provider's side: tell the portal a session ended.

When a provider session ends (the user signs out at ``/oidc/logout``, or a test or operator
calls :meth:`~devidp.app.DevIdp.end_provider_sessions`), the provider POSTs
``logout_token=<JWT>`` to the portal's ``backchannel_logout_uri`` before answering the browser,
so the portal's session is gone by the time the browser comes back. The token is signed with the
current signing key and carries ``sid`` (the ``sid`` of the ID tokens of that session) and
``sub``, the back-channel logout event, and never a ``nonce`` (spec section 2.4).

A portal that is down or slow never breaks the browser's logout: the POST has a short timeout,
failures are logged, and every attempt is kept in :class:`DeliveryLog` for tests to read.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests
from joserfc import jwt

from .settings import DevIdpSettings
from .store import DevIdpStore

logger = logging.getLogger(__name__)

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: A logout token is delivered at once; two minutes covers clock skew, not storage.
LOGOUT_TOKEN_TTL = 120
#: Long enough for a healthy portal, short enough that a dead one barely delays the browser.
DEFAULT_TIMEOUT = 5.0

#: Sends the form to the URI within the timeout and returns the HTTP status; raises on failure.
Transport = Callable[[str, dict[str, str], float], int]


def http_post(uri: str, form: dict[str, str], timeout: float) -> int:
    """The real transport: a form POST that follows no redirects (the spec's RP answers 200)."""
    response = requests.post(uri, data=form, timeout=timeout, allow_redirects=False)
    return response.status_code


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver a logout token: ``status`` when the portal answered, else
    ``error`` (timeout, refused connection, ...)."""

    uri: str
    subject: str
    sid: str
    logout_token: str
    status: int | None
    error: str = ""
    at: float = 0.0

    @property
    def ok(self) -> bool:
        """The spec's RP answers 200 (or 204) when it has ended the session."""
        return self.status is not None and 200 <= self.status < 300


class DeliveryLog:
    """The last deliveries of this process, newest last; a small thread-safe list for tests."""

    def __init__(self, maxlen: int = 1000) -> None:
        self._lock = threading.Lock()
        self._items: deque[Delivery] = deque(maxlen=maxlen)

    def append(self, delivery: Delivery) -> None:
        with self._lock:
            self._items.append(delivery)

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[Delivery]:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> Delivery:
        return self.snapshot()[index]


class BackchannelLogout:
    """Makes and sends logout tokens for one provider. ``transport`` and ``timeout`` may be
    replaced (tests route the POST into an in-process portal, or shorten the wait)."""

    def __init__(
        self,
        settings: DevIdpSettings,
        store: DevIdpStore,
        deliveries: DeliveryLog | None = None,
        transport: Transport = http_post,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.store = store
        self.deliveries = deliveries if deliveries is not None else DeliveryLog()
        self.transport = transport
        self.timeout = timeout

    def logout_token(self, subject: str, sid: str) -> str:
        """The signed logout token for one provider session (spec section 2.4)."""
        key = self.store.signing_key()
        now = int(time.time())
        claims = {
            "iss": self.settings.issuer,
            "aud": self.settings.client_id,
            "iat": now,
            "exp": now + LOGOUT_TOKEN_TTL,
            "jti": secrets.token_urlsafe(24),
            "sub": subject,
            "sid": sid,
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        }
        header = {"alg": "RS256", "kid": key.kid, "typ": "logout+jwt"}
        return jwt.encode(header, claims, key, ["RS256"])

    def notify(self, subject: str, sid: str) -> Delivery | None:
        """Deliver one logout token now; None when no back-channel URI is configured.

        Never raises: the session at the provider has ended either way, and the browser that
        asked for it must get its answer."""
        uri = self.settings.backchannel_logout_uri
        if not uri:
            return None
        token = self.logout_token(subject, sid)
        try:
            status = self.transport(uri, {"logout_token": token}, self.timeout)
        except Exception as error:  # any failure is logged, never raised
            delivery = Delivery(uri, subject, sid, token, None, repr(error), time.time())
            logger.warning("back-channel logout to %s failed: %r", uri, error)
        else:
            delivery = Delivery(uri, subject, sid, token, status, "", time.time())
            if not delivery.ok:
                logger.warning("back-channel logout to %s answered %s", uri, status)
        self.deliveries.append(delivery)
        return delivery

    def end_sessions(self, subject: str) -> int:
        """End every provider session of ``subject``, one logout token each; how many ended.

        A session another worker ends at the same moment is notified by that worker only."""
        ended = 0
        for sid in self.store.active_login_sessions(subject):
            if self.store.end_login_session(sid) is not None:
                ended += 1
                self.notify(subject, sid)
        return ended
