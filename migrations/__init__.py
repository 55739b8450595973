"""Alembic revisions: the only way the portal's schema changes."""
