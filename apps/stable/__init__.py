"""Stable products: open to every signed-in user."""
