"""Error pages in the portal's frame, for every part of the site: one renderer, one template.

The Gate's refusals, a broken product's 503, the host router's 400s and 404s and the portal
app's own errors all come from here, through a plain Jinja environment, so an error looks the
same wherever it comes from and the Gate needs no Flask.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from auth.hosts import Origins
from auth.identity import PortalUser
from auth.responses import ErrorPage
from kit.frame import FRAME_TEMPLATES, frame_context

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
#: The portal's own templates, then the page frame products share (`portal/base.html`).
TEMPLATE_FOLDERS = (TEMPLATES_DIR, FRAME_TEMPLATES)


class ErrorPages:
    def __init__(self, site_name: str, origins: Origins) -> None:
        self.site_name = site_name
        self.origins = origins
        self.portal_url = origins.portal_origin if origins.host_mode else ""
        #: The dashboard from wherever a page is served: a product's host needs the origin.
        self.dashboard_url = self.portal_url + "/"
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATE_FOLDERS), autoescape=select_autoescape(default=True)
        )

    def __call__(
        self, page: ErrorPage, *, user: PortalUser | None = None, logout_token: str | None = None
    ) -> str:
        return self._env.get_template("portal/error.html").render(
            status=page.status,
            heading=page.heading,
            message=page.message,
            details=page.details,
            action_url=page.action_url,
            action_label=page.action_label,
            **frame_context(
                user=user,
                product=None,
                logout_token=logout_token,
                site_name=self.site_name,
                portal_url=self.portal_url,
            ),
        )
