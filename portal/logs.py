"""Logging for the whole process: one line per event, JSON for log shippers in production."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from auth.log_context import ContextFilter


def configure_logging(*, json_lines: bool, level: int = logging.INFO) -> None:
    """One line per event: JSON for log shippers in production, plain text in a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
