"""Signing in once in host mode: the portal's host hands each product's host a cookie of its own.

A product's host has no cookie the first time the browser comes. The Gate sends it to the portal
host (`/_portal/handoff?product=...&next=...`), which signs the person in if needed and then
sends the browser back to the product's host with a one-time code that lives a minute, is bound
to that host and to the session, and is exchanged there, server-side, for the host's own
cookie (the same server-side session, so signing out anywhere ends it everywhere). This is the
shape of JupyterHub's per-server OAuth. The code is in one URL only, the exchange's, which the
portal answers itself before redirecting to `next`: the product never sees it, and it can't be
used twice.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta
from urllib.parse import parse_qs, urlencode

from cryptography.fernet import Fernet, InvalidToken

from auth.cookies import session_cookie
from auth.hosts import Origins
from auth.responses import ErrorPage, ErrorRenderer, html_response
from auth.sessions import SessionStore
from db.engine import Database
from db.handoffs import add_handoff, take_handoff

log = logging.getLogger(__name__)

HANDOFF_PATH = "/_portal/handoff"
CODE_LIFETIME = timedelta(seconds=60)
_NO_TRACE = [("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer")]


def handoff_start_url(origins: Origins, product_key: str, next_path: str) -> str:
    """Where a product's host sends a browser that has no cookie for it yet."""
    query = urlencode({"product": product_key, "next": next_path})
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
        digest = hashlib.sha256(f"portal.handoff:{secret_key}".encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def issue(self, raw_session_id: str, product_key: str, next_path: str) -> str:
        """A one-time code for this session and this product's host; the URL that spends it."""
        code = secrets.token_urlsafe(32)
        add_handoff(
            self.database,
            _hash(code),
            sealed_session=self._fernet.encrypt(raw_session_id.encode()).decode(),
            host=self.origins.product_host(product_key),
            next_path=within_mount(next_path, f"/{product_key}"),
            lifetime=CODE_LIFETIME,
        )
        return f"{self.origins.product_origin(product_key)}{HANDOFF_PATH}?code={code}"

    def exchange(
        self, environ: dict, start_response: Callable, product_key: str
    ) -> Iterable[bytes]:
        """On the product's host: the code for this host's cookie, then on to `next`."""
        host = self.origins.request_host(environ)
        code = (parse_qs(environ.get("QUERY_STRING", "")).get("code") or [""])[0]
        taken = take_handoff(self.database, _hash(code), host) if code else None
        raw_id = self._open(taken[0]) if taken else None
        if taken is None or raw_id is None:
            log.info("a handoff code for %s was refused (unknown, used, expired or foreign)", host)
            page = ErrorPage(
                400,
                "This sign-in link has expired",
                "It was already used or is more than a minute old. Open the product again to sign "
                "in to it.",
                action_url=handoff_start_url(self.origins, product_key, f"/{product_key}/"),
                action_label="Open the product",
            )
            return html_response(start_response, 400, self.render_error(page), _NO_TRACE)
        cookie = session_cookie(self.origins, self.store.cookie_value(raw_id, host))
        start_response(
            "302 Found",
            [("Location", taken[1]), ("Set-Cookie", cookie), ("Content-Length", "0"), *_NO_TRACE],
        )
        return [b""]

    def _open(self, sealed: str) -> str | None:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
