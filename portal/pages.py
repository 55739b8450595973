"""Pages rendered outside a Flask request: the Gate's refusals and a broken product's 503.

They use the same templates as the portal app, through a plain Jinja environment, so a refusal
looks like the rest of the site without the Gate depending on Flask.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from auth.hosts import Origins
from auth.identity import PortalUser, frame_context

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


class ErrorPages:
    def __init__(self, site_name: str, origins: Origins) -> None:
        self.site_name = site_name
        self.origins = origins
        self.portal_url = origins.portal_origin if origins.host_mode else ""
        #: The dashboard from wherever a page is served: a product's host needs the origin.
        self.dashboard_url = self.portal_url + "/"
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(default=True)
        )

    def __call__(
        self,
        *,
        status: int,
        heading: str,
        message: str,
        user: PortalUser | None = None,
        details: str | None = None,
        action_url: str | None = None,
        action_label: str | None = None,
        logout_token: str | None = None,
    ) -> str:
        return self._env.get_template("portal/error.html").render(
            status=status,
            heading=heading,
            message=message,
            details=details,
            action_url=action_url,
            action_label=action_label,
            **frame_context(
                user=user,
                product=None,
                logout_token=logout_token,
                site_name=self.site_name,
                portal_url=self.portal_url,
            ),
        )
