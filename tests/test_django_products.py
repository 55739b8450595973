"""Django keeps its settings per process, so a second Django site in the portal's process would
silently serve the first one's views: it is refused with a reason instead."""

import json
import subprocess
import sys
import textwrap

import pytest

from portal.config import PROJECT_ROOT

pytestmark = pytest.mark.site

SITE = {
    "__init__.py": """
        import os

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apps.ea.{name}.settings")

        from django.core.wsgi import get_wsgi_application

        app = get_wsgi_application()
    """,
    "settings.py": """
        SECRET_KEY = "a-key-for-this-test-only-{name}"
        ROOT_URLCONF = "apps.ea.{name}.urls"
        ALLOWED_HOSTS = ["*"]
        INSTALLED_APPS = []
        USE_TZ = True
    """,
    "urls.py": """
        from django.http import HttpResponse
        from django.urls import path

        urlpatterns = [path("", lambda request: HttpResponse("{name}"))]
    """,
}

DISCOVER = """
import json, sys
from pathlib import Path
from werkzeug.test import Client
from portal.products.discovery import discover

found = {p.info.key: p for p in discover(Path(sys.argv[1])).products}
first = Client(found["ea/alpha"].app).get("/", environ_base={"SCRIPT_NAME": "/ea/alpha"})
print(json.dumps({
    "alpha": [found["ea/alpha"].status.value, first.text],
    "beta": [found["ea/beta"].status.value, found["ea/beta"].error],
}))
"""


def test_a_second_django_site_is_refused_and_the_first_keeps_serving(tmp_path):
    for name in ("alpha", "beta"):
        folder = tmp_path / "ea" / name
        folder.mkdir(parents=True)
        for filename, source in SITE.items():
            (folder / filename).write_text(textwrap.dedent(source).replace("{name}", name))
    result = subprocess.run(
        [sys.executable, "-c", DISCOVER, str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "alpha": ["loaded", "alpha"],
        "beta": [
            "broken",
            "Django allows one site per process and ea/alpha already is that site here, so "
            "this one would serve its views; a second Django site needs a process of its own "
            "(docs/how-to/products/process.md)",
        ],
    }, result.stderr
