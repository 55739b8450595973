"""The settings' names as the rest of the project has long imported them; the model itself,
its checks and its reference live in `portal.settings`."""

from portal.settings import (
    DEFAULT_BASE_URL,
    DEV_CLIENT_ID,
    DEV_IDP_MOUNT,
    PROJECT_ROOT,
    ConfigError,
    Settings,
    load_settings,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEV_CLIENT_ID",
    "DEV_IDP_MOUNT",
    "PROJECT_ROOT",
    "ConfigError",
    "Settings",
    "load_settings",
]
