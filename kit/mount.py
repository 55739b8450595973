"""Where the portal mounts a product, for frameworks that must be told their URL prefix."""

from __future__ import annotations

from auth.tiers import Tier


def mount_path_of(module_name: str) -> str:
    """`/<tier>/<name>` for a product's module (`apps.<tier>.<name>`), where the portal mounts
    it: for frameworks that must know their URL prefix when they are built (Dash). It follows
    the folder, so promoting the product moves the prefix with it."""
    parts = module_name.split(".")
    if len(parts) < 3 or parts[0] != "apps":
        raise ValueError(f"{module_name!r} is not a product module (apps.<tier>.<name>)")
    return f"/{Tier.parse(parts[1]).value}/{parts[2]}"
