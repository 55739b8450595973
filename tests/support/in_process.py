"""The whole portal built in-process on a SQLite file, for tests that drive its WSGI stack with
werkzeug's test client and make sessions directly instead of signing in."""

from __future__ import annotations

from pathlib import Path

from portal.config import Settings


def offline_settings(folder: Path, **overrides: object) -> Settings:
    """The portal's settings with everything in `folder` (its database, instance and `apps/`)
    and an issuer nobody answers: nothing here may depend on a sign-in round trip."""
    values: dict[str, object] = {
        "secret_key": "in-process-tests-secret-0123456789-abcdefghij",
        "database_url": f"sqlite:///{folder / 'portal.sqlite3'}",
        "base_url": "http://portal.test",
        "instance_path": folder,
        "apps_dir": folder / "apps",
        "oidc_issuer": "https://127.0.0.1:9/",
        "oidc_client_id": "portal",
        "oidc_client_secret": "client-secret",
    }
    return Settings(**{**values, **overrides})
