"""Flask's `session` for the portal app, stored server-side through :class:`SessionStore`.

Flask's `SessionInterface` is the seam: authlib keeps its login state (state, nonce, PKCE verifier)
in `flask.session`, and with this interface that state lives in the database, never in the cookie.
"""

from __future__ import annotations

from flask import Flask, Request, Response, request
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import CallbackDict

from auth.cookies import (
    TamperedCookies,
    cleared_session_cookie,
    sent_session_cookie,
    session_cookie,
    stray_copies_cleared,
)
from auth.hosts import Origins, normalize_host
from auth.sessions import EndReason, SessionStore


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial: dict | None, raw_id: str | None, user_id: int | None) -> None:
        def on_update(_self: CallbackDict) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.raw_id = raw_id
        self.user_id = user_id
        self.modified = False
        self.rotate = False
        self.ended = False
        self.sealed_tokens: str | None = None
        self.idp_sid: str | None = None
        self.failure: Exception | None = None
        #: The request carried more than one session cookie; none was used (see auth.cookies).
        self.tampered = False

    def sign_in(self, user_id: int, *, sealed_tokens: str | None, idp_sid: str | None) -> None:
        """Bind the session to a user under a new id, so an id planted before sign-in is useless."""
        self.user_id = user_id
        self.sealed_tokens = sealed_tokens
        self.idp_sid = idp_sid
        self.rotate = True
        self.modified = True

    def end(self) -> None:
        self.clear()
        self.ended = True


class DatabaseSessionInterface(SessionInterface):
    def __init__(
        self, store: SessionStore, origins: Origins, *, sessionless: tuple[str, ...] = ()
    ) -> None:
        self.store = store
        self.origins = origins
        self.sessionless = sessionless

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        """The stored session; none for `sessionless` paths (static files, health checks), which
        would otherwise cost a database read each."""
        if request.path.startswith(self.sessionless):
            return ServerSession(None, None, None)
        try:
            cookie = sent_session_cookie(request.environ, self.origins)
        except TamperedCookies:
            tampered = ServerSession(None, None, None)
            tampered.tampered = True
            return tampered
        raw_id = self.store.id_from_cookie(cookie, self.host(request))
        try:
            stored = self.store.load(raw_id) if raw_id else None
        except SQLAlchemyError as error:
            broken = ServerSession(None, None, None)
            broken.failure = error
            return broken
        if stored is None:
            return ServerSession(None, None, None)
        return ServerSession(stored.data, stored.raw_id, stored.user_id)

    def host(self, request: Request) -> str:
        return normalize_host(request.host, self.origins.scheme)

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:  # type: ignore[override]
        """Write the session; when the database fails, the request fails with it (a 503 from
        the portal's error handler), and the handler's own save does not wait on it again."""
        if session is None or session.failure is not None:
            return
        try:
            self._save(session, response)
        except SQLAlchemyError as error:
            session.failure = error
            raise

    def _save(self, session: ServerSession, response: Response) -> None:
        if session.tampered:
            for cleared in stray_copies_cleared(self.origins, request.path, self.host(request)):
                response.headers.add("Set-Cookie", cleared)
        if session.ended:
            if session.raw_id:
                self.store.revoke(session.raw_id)
            response.headers.add("Set-Cookie", cleared_session_cookie(self.origins))
            return
        if not (session.modified or session.rotate):
            return
        if session.rotate and session.raw_id:
            self.store.revoke(session.raw_id, EndReason.REPLACED)
            session.raw_id = None
        if session.raw_id is None and not session and session.user_id is None:
            return
        session.raw_id = self.store.save(
            session.raw_id,
            dict(session),
            session.user_id,
            user_agent=request.user_agent.string,
            ip_address=request.remote_addr or "",
            tokens=session.sealed_tokens,
            idp_sid=session.idp_sid,
        )
        cookie = self.store.cookie_value(session.raw_id, self.host(request))
        response.headers.add("Set-Cookie", session_cookie(self.origins, cookie))
        response.vary.add("Cookie")
