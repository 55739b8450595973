"""Development wiring: the built-in identity provider, registered with this portal, and its demo
users. The only place outside the `portal` CLI's development commands that imports `devidp`,
and it is used only when no issuer is configured (the provider refuses to run in production).
"""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from auth.tier_roles import DEFAULT_TIER_ROLES
from auth.tiers import Tier
from auth.users import SignIn, ensure_users
from devidp import DEMO_USERS, DevIdpSettings, create_dev_idp
from portal.services import Services
from portal.settings import Settings

log = logging.getLogger(__name__)


def dev_idp_settings(settings: Settings, *, issuer: str, portal_url: str) -> DevIdpSettings:
    """The development provider, registered with this portal as its client (and M2M client)."""
    management = settings.management_credentials or ("", "")
    return DevIdpSettings(
        issuer=issuer,
        database_url=settings.dev_idp_database_url,
        secret_key=settings.derived_secret("dev-idp.cookie"),
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        redirect_uris=(f"{portal_url}/callback",),
        post_logout_redirect_uris=(f"{portal_url}/",),
        roles_claim=settings.roles_claim,
        audience=settings.api_audience,
        admin_scope=settings.admin_scope,
        access_token_ttl=settings.dev_idp_access_token_ttl,
        id_token_ttl=settings.dev_idp_access_token_ttl,
        refresh_token_ttl=settings.dev_idp_refresh_token_ttl,
        backchannel_logout_uri=f"{portal_url}/backchannel-logout",
        management_client_id=management[0],
        management_client_secret=management[1],
        management_rate_limit=settings.dev_idp_management_rate_limit,
        production=settings.production,
        role_names=tuple(
            (tier.value, role)
            for tier, role in ((t, settings.tier_roles.assigned_role(t)) for t in Tier)
            if role is not None
        ),
    )


def development_provider(settings: Settings) -> tuple[Flask, list[tuple[str, str, str]]]:
    idp = create_dev_idp(
        dev_idp_settings(settings, issuer=settings.issuer, portal_url=settings.base_url)
    )
    users = [(u.email, u.password, DEFAULT_TIER_ROLES.tier_of(u.roles).value) for u in DEMO_USERS]
    return idp, users


def known_demo_users(services: Services) -> None:
    """The demo users exist in the table from the start, so `portal token` works at once. A
    database that is down or slow now must not stop a worker from starting: the users come in
    with their first sign-in anyway."""
    settings = services.settings
    named = dev_idp_settings(settings, issuer=settings.issuer, portal_url=settings.base_url)
    try:
        ensure_users(
            services.database,
            [
                SignIn(u.subject, u.email, u.name, [named.role_name(r) for r in u.roles])
                for u in DEMO_USERS
            ],
            settings.tier_roles,
        )
    except SQLAlchemyError as error:
        log.warning("could not add the demo users now (%s); they are added at sign-in", error)
