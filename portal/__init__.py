"""The portal: one sign-in, many products. `create_app()` builds the whole site as a Flask app,
so `flask --app portal routes|shell|run` work; `wsgi.application` is what gunicorn serves."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from portal.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """The site; imported on use, so `import portal.settings` (the CLI, gunicorn's settings) stays
    light and free of the whole application."""
    from portal.application import create_app as build

    return build(settings)
