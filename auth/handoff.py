"""Signing in once in host mode: the portal's host hands each product's host a cookie of its own.

A product's host has no cookie the first time the browser comes. The Gate sends it to the portal
host (`/_portal/handoff?product=...&next=...`), which signs the person in if needed and then
sends the browser back to the product's host with a one-time code that lives a minute, is bound
to that host and to the session, and is exchanged there, server-side, for the host's own
cookie (the same server-side session, so signing out anywhere ends it everywhere). This is the
shape of JupyterHub's per-server OAuth. The code is in one URL only, the exchange's, which the
portal answers itself before redirecting to `next`: the product never sees it, and it can't be
used twice.

**Bound to the browser that asked**, as OAuth binds a code to its `state`. Before sending a
browser to the portal host, the product's host gives it a short-lived state cookie of its own
(host-only, HttpOnly, SameSite=Lax, `__Host-` on https); the start URL carries the state's
SHA-256, the code is stored with it, and the exchange spends the code only for a browser that
sends the state itself, then clears it. A code someone else asked for (to sign a victim's
browser in as the attacker: login CSRF) is refused with a 400 and sets nothing. The portal host
mints a code only for a product, and a `next` path in it, that the signed-in user may open now
(`auth.refusals.may_not_open`), so a code never carries a session where its Gate would refuse it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta
from urllib.parse import parse_qs, urlencode

from cryptography.fernet import Fernet, InvalidToken

from auth.cookies import cookie_values, host_cookie, session_cookie
from auth.hosts import Origins
from auth.locations import Locations, encoded_target
from auth.responses import ErrorPage, ErrorRenderer, html_response
from auth.sessions import SessionStore
from db.engine import Database
from db.handoffs import add_handoff, take_handoff

log = logging.getLogger(__name__)

HANDOFF_PATH = "/_portal/handoff"
CODE_LIFETIME = timedelta(seconds=60)
#: Long enough to sign in at the identity provider on the way (the code itself lives a minute).
STATE_LIFETIME = timedelta(minutes=10)
STATE_COOKIE_NAME = "portal_session_handoff"
SECURE_STATE_COOKIE_NAME = "__Host-portal_session_handoff"
#: A state's SHA-256 as the start URL carries it and the code row keeps it.
STATE_DIGEST = re.compile(r"[0-9a-f]{64}")
_STATE = re.compile(r"[A-Za-z0-9_-]{43}")
_NO_TRACE = [("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer")]


def state_cookie_name(origins: Origins) -> str:
    return SECURE_STATE_COOKIE_NAME if origins.https else STATE_COOKIE_NAME


def sent_state(environ: dict, origins: Origins) -> str | None:
    """The browser's handoff state for this host: exactly one well-formed cookie, or None."""
    values = cookie_values(environ, state_cookie_name(origins))
    return values[0] if len(values) == 1 and _STATE.fullmatch(values[0]) else None


def state_digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def handoff_state(environ: dict, origins: Origins) -> tuple[str, list[tuple[str, str]]]:
    """The digest a start URL carries, and the cookie that holds its state on this host: the
    browser's own state if it has one (so two tabs starting at once both finish), else a new
    one."""
    state = sent_state(environ, origins) or secrets.token_urlsafe(32)
    lifetime = int(STATE_LIFETIME.total_seconds())
    cookie = host_cookie(origins, state_cookie_name(origins), state, max_age=lifetime)
    return state_digest(state), [("Set-Cookie", cookie)]


def cleared_state_cookie(origins: Origins) -> str:
    return host_cookie(origins, state_cookie_name(origins), max_age=0)


def handoff_start_url(origins: Origins, product_key: str, next_path: str, digest: str) -> str:
    """Where a product's host sends a browser that has no cookie for it yet."""
    query = urlencode({"product": product_key, "next": next_path, "state": digest})
    return f"{origins.portal_origin}{HANDOFF_PATH}?{query}"


def within_mount(next_path: str | None, mount_path: str) -> str:
    """A path inside the product to go on to; anything else is the product's front page."""
    path = next_path or ""
    inside = path == mount_path or path.startswith((mount_path + "/", mount_path + "?"))
    if not inside or "\\" in path or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
        return mount_path + "/"
    return path


class Handoffs:
    def __init__(
        self,
        database: Database,
        store: SessionStore,
        origins: Origins,
        secret_key: str,
        render_error: ErrorRenderer,
    ) -> None:
        self.database = database
        self.store = store
        self.origins = origins
        self.render_error = render_error
        self.locations = Locations(origins)
        digest = hashlib.sha256(f"portal.handoff:{secret_key}".encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def issue(self, raw_session_id: str, product_key: str, next_path: str, digest: str) -> str:
        """A one-time code for this session, this product's host and the browser whose state
        `digest` names; the URL that spends it."""
        code = secrets.token_urlsafe(32)
        add_handoff(
            self.database,
            _hash(code),
            sealed_session=self._fernet.encrypt(raw_session_id.encode()).decode(),
            host=self.origins.product_host(product_key),
            state_hash=digest,
            next_path=encoded_target(within_mount(next_path, f"/{product_key}")),
            lifetime=CODE_LIFETIME,
        )
        return f"{self.origins.product_origin(product_key)}{HANDOFF_PATH}?code={code}"

    def on_product_host(
        self, environ: dict, start_response: Callable, product_key: str
    ) -> Iterable[bytes]:
        """`/_portal/handoff` on a product's host: with a code, its exchange; without, its
        start (for a proxy that answers the sign-in redirect itself and sets no cookie)."""
        if "code" in parse_qs(environ.get("QUERY_STRING", "")):
            return self.exchange(environ, start_response, product_key)
        return self.begin(environ, start_response, product_key)

    def begin(self, environ: dict, start_response: Callable, product_key: str) -> Iterable[bytes]:
        """Give this browser its state cookie on this host and send it to the portal host's
        start, for `next` (a page of this product)."""
        wanted = (parse_qs(environ.get("QUERY_STRING", "")).get("next") or [""])[0]
        next_path = within_mount(wanted, f"/{product_key}")
        digest, cookies = handoff_state(environ, self.origins)
        url = handoff_start_url(self.origins, product_key, next_path, digest)
        return self.locations.redirect(start_response, "302 Found", url, cookies)

    def exchange(
        self, environ: dict, start_response: Callable, product_key: str
    ) -> Iterable[bytes]:
        """On the product's host: the code and this browser's state for this host's cookie,
        then on to `next`."""
        host = self.origins.request_host(environ)
        code = (parse_qs(environ.get("QUERY_STRING", "")).get("code") or [""])[0]
        state = sent_state(environ, self.origins)
        taken = (
            take_handoff(self.database, _hash(code), host, state_digest(state))
            if code and state
            else None
        )
        raw_id = self._open(taken[0]) if taken else None
        if taken is None or raw_id is None:
            log.info(
                "a handoff code for %s was refused (unknown, used, expired, foreign, or asked "
                "for by another browser)",
                host,
            )
            page = ErrorPage(
                400,
                "This sign-in link has expired",
                "It was already used, is more than a minute old, or was made for another "
                "browser. Open the product again to sign in to it.",
                action_url=self.origins.product_url(product_key),
                action_label="Open the product",
            )
            return html_response(start_response, 400, self.render_error(page), _NO_TRACE)
        cookies = [
            ("Set-Cookie", session_cookie(self.origins, self.store.cookie_value(raw_id, host))),
            ("Set-Cookie", cleared_state_cookie(self.origins)),
        ]
        return self.locations.redirect(
            start_response, "302 Found", taken[1], [*cookies, ("Referrer-Policy", "no-referrer")]
        )

    def _open(self, sealed: str) -> str | None:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
