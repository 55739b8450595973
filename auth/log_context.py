"""What the current request's log lines carry (request id, user id, product), per thread.

The outermost middleware starts the context with the request id; the Gate adds the user and the
product once it knows them; a logging filter copies the fields onto every record.
"""

from __future__ import annotations

import contextvars
import logging

LOG_CONTEXT: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar(
    "portal_log_context", default=None
)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (LOG_CONTEXT.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def note(**fields: object) -> None:
    """Add fields to the current request's log lines."""
    LOG_CONTEXT.set({**(LOG_CONTEXT.get() or {}), **fields})
