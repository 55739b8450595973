"""Template filters, so every page writes times and tiers the same way."""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from kit import Tier


def when(moment: datetime | None, empty: str = "never") -> str:
    """Stored times are naive UTC; say so, to the minute."""
    if moment is None:
        return empty
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def tier_label(value: str) -> str:
    try:
        return Tier.parse(value).label
    except ValueError:
        return value


def iso(moment: datetime | None) -> str | None:
    """Times in the API: ISO 8601 with an explicit zone, so scripts need not guess it."""
    return None if moment is None else moment.isoformat() + "Z"


def register_filters(app: Flask) -> None:
    app.add_template_filter(when)
    app.add_template_filter(tier_label)
