"""Pages and errors of the portal app, in the portal's frame: HTML for people, JSON for APIs."""

from __future__ import annotations

from flask import Response, g, jsonify, render_template, request
from sqlalchemy.exc import SQLAlchemyError

from auth.cookies import TamperedCookies
from auth.gate import wants_json
from auth.identity import frame_context
from auth.resolver import Identity
from portal.services import Services

ISSUER_DOWN = "The identity provider cannot be reached right now. Please try again in a minute."


class Rendering:
    def __init__(self, services: Services) -> None:
        self.services = services

    def identity(self) -> Identity | None:
        """The signed-in, unblocked user of this request, resolved once per request; a request
        with tampered session cookies has none (see `auth.cookies`)."""
        if "identity" not in g:
            try:
                found = self.services.resolver.resolve(request.environ)
            except TamperedCookies:
                found = None
            g.identity = None if found is None or found.blocked else found
        return g.identity

    def page(self, template: str, http_status: int = 200, **context: object) -> Response:
        who = self.identity()
        body = render_template(
            template,
            **frame_context(
                user=who.user if who else None,
                product=None,
                logout_token=who.logout_token if who else None,
                site_name=self.services.settings.site_name,
            ),
            **context,
        )
        return Response(body, status=http_status, mimetype="text/html")

    def error(
        self,
        status: int,
        heading: str,
        message: str,
        *,
        details: str | None = None,
        action_url: str | None = None,
        action_label: str | None = None,
    ) -> Response:
        if wants_json(request.environ):
            response = jsonify(error=heading, message=message)
            response.status_code = status
        else:
            try:
                self.identity()
            except SQLAlchemyError:
                g.identity = None
            response = self.page(
                "portal/error.html",
                http_status=status,
                status=status,
                heading=heading,
                message=message,
                details=details,
                action_url=action_url,
                action_label=action_label,
            )
        response.headers["Cache-Control"] = "no-store"
        return response

    def issuer_down(self) -> Response:
        return self.error(
            503,
            "Sign-in is unavailable",
            ISSUER_DOWN,
            action_url="/login",
            action_label="Try again",
        )
