"""gunicorn settings: `gunicorn wsgi:application` reads this file from the project root.

gthread workers: each request gets a thread, so a slow product or a long-lived websocket does not
hold a whole worker, and the portal can call its own development identity provider while serving
the sign-in that needs it.
"""

import os

from portal.config import load_settings
from portal.startup import prepare_instance

wsgi_app = "wsgi:application"
bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("PORTAL_WORKERS", "2"))
threads = int(os.environ.get("PORTAL_THREADS", "8"))
timeout = int(os.environ.get("PORTAL_WORKER_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("PORTAL_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"


def on_starting(server: object) -> None:
    """Once, in the master, before any worker: the instance folder, the dev secret, migrations."""
    prepare_instance(load_settings())
