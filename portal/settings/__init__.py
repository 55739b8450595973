"""The portal's settings: one typed model (`model`), its checks, and its generated reference."""

from portal.settings.derived import (
    DEFAULT_BASE_URL,
    DEV_API_AUDIENCE,
    DEV_CLIENT_ID,
    DEV_IDP_MOUNT,
    DEV_MANAGEMENT_CLIENT_ID,
)
from portal.settings.fields import DEFAULT_ADMIN_SCOPE, PROJECT_ROOT
from portal.settings.loading import load_settings
from portal.settings.model import Settings
from portal.settings.values import ConfigError, kept_in_instance

__all__ = [
    "DEFAULT_ADMIN_SCOPE",
    "DEFAULT_BASE_URL",
    "DEV_API_AUDIENCE",
    "DEV_CLIENT_ID",
    "DEV_IDP_MOUNT",
    "DEV_MANAGEMENT_CLIENT_ID",
    "PROJECT_ROOT",
    "ConfigError",
    "Settings",
    "kept_in_instance",
    "load_settings",
]
