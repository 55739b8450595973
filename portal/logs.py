"""Logging for the whole process: one line per event, JSON for log shippers in production."""

from __future__ import annotations

import logging
import sys
from json.encoder import encode_basestring_ascii as _string

from pythonjsonlogger.json import JsonFormatter

from auth.log_context import ContextFilter

#: The logger of the one line per request (`portal.access_log`).
ACCESS_LOGGER = "portal.access"


class JsonLines(JsonFormatter):
    """python-json-logger's lines, with a short way for the access line: one is written per
    request and its fields are known (ints, a float, strings), so it is put together directly,
    each string through the encoder `json` itself uses, instead of walking the record's
    attributes and encoding a dict: a tenth of what the portal adds to a product request
    (benchmarks/gate_overhead.py). The line is the same JSON either way."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name != ACCESS_LOGGER or record.exc_info:
            return super().format(record)
        user_id = record.user_id  # type: ignore[attr-defined]
        return (
            f'{{"time": {_string(self.formatTime(record))}, "level": "{record.levelname}", '
            f'"logger": "{ACCESS_LOGGER}", "message": {_string(record.getMessage())}, '
            f'"status": {int(record.status)}, '  # type: ignore[attr-defined]
            f'"duration_ms": {float(record.duration_ms)}, '  # type: ignore[attr-defined]
            f'"user_id": {"null" if user_id is None else int(user_id)}, '
            f'"product": {_string(record.product)}, '  # type: ignore[attr-defined]
            f'"request_id": {_string(record.request_id)}}}'  # type: ignore[attr-defined]
        )


def configure_logging(*, json_lines: bool, level: int = logging.INFO) -> None:
    """One line per event: JSON for log shippers in production, plain text in a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if json_lines:
        handler.setFormatter(
            JsonLines(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
