"""Settings of a Django site that the portal runs as a product at `PORTAL_PREFIX`."""

import os
import secrets
from pathlib import Path

#: Where the portal mounts the site (`/devel/board`): every URL lives below it, so moving the
#: folder to another tier moves the site with it.
PREFIX = os.environ.get("PORTAL_PREFIX", "/devel/board")
# The site keeps no sessions or signed data worth keeping across restarts.
SECRET_KEY = os.environ.get("BOARD_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
# It listens on 127.0.0.1 alone, reached only through the portal, which checks the Host first.
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "board_site.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
    }
]
DATABASES: dict = {}
USE_TZ = True
