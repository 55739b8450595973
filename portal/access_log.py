"""One line per request, logger `portal.access`: method, path, status, duration, user, product
and request id (JSON fields in production, see `portal.logs.JsonLines`).

Every request writes one, so it skips what a general `logger.info` call does and this line never
uses: finding the calling frame (a stack walk), and building the fields when nobody listens.
Handlers, levels and filters are the logging configuration's, as for any logger.
"""

from __future__ import annotations

import contextlib
import logging

from auth.identity import USER_ENVIRON_KEY
from portal.logs import ACCESS_LOGGER

access_log = logging.getLogger(ACCESS_LOGGER)


def log_request(environ: dict, status: str, elapsed: float, product: str, request_id: str) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    user = environ.get(USER_ENVIRON_KEY)
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if not path.isascii():
        with contextlib.suppress(UnicodeEncodeError):  # else it is text already
            path = path.encode("latin-1").decode("utf-8", "replace")  # WSGI's bytes as latin-1
    record = access_log.makeRecord(
        access_log.name,
        logging.INFO,
        __file__,
        0,
        "%s %s %s",
        (environ.get("REQUEST_METHOD"), path, status),
        None,
        extra={  # the fields portal.logs.JsonLines writes
            "status": int(status),
            "duration_ms": round(elapsed * 1000, 1),
            "user_id": getattr(user, "id", None),
            "product": product,
            "request_id": request_id,
        },
    )
    access_log.handle(record)
