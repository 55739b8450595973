"""What a product learns about the person making a request.

The Gate puts a :class:`PortalUser` in the WSGI environ under :data:`USER_ENVIRON_KEY`, the
product's own description under :data:`PRODUCT_ENVIRON_KEY` and the sign-out form's token under
:data:`LOGOUT_TOKEN_ENVIRON_KEY`. Nothing else carries identity: not
request headers, which any client can send.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from auth.portal_address import refuse_the_portal
from auth.product_kinds import (
    DEFAULT_HEALTH,
    DEFAULT_LIVENESS,
    DEFAULT_TIMEOUT,
    Liveness,
    ProductKind,
)
from auth.product_paths import (
    EntryPoint,
    StricterPath,
    read_stricter_paths,
    tier_at,
)
from auth.product_toml import parse_product_toml
from auth.tiers import Tier

USER_ENVIRON_KEY = "portal.user"
PRODUCT_ENVIRON_KEY = "portal.product"
SOCKET_GUARD_ENVIRON_KEY = "portal.socket_guard"
#: The product (`tier/name`) whose mount took the request, allowed or not: for metrics and logs.
MOUNT_ENVIRON_KEY = "portal.mount"
#: "session" (the portal's cookie) or "bearer" (an access token): how this request proved who it
#: is. Cookie-authenticated state changes need CSRF protection; bearer ones can't be forged.
AUTH_METHOD_ENVIRON_KEY = "portal.auth_method"
METADATA_FILE = "product.toml"
LOGOUT_TOKEN_ENVIRON_KEY = "portal.logout_token"  # noqa: S105 - an environ key, not a secret


class TokenUnavailable(RuntimeError):
    """No access token can be had for this request right now (the identity provider is
    unreachable, or the request carries no tokens); try again later."""


class SignInAgain(TokenUnavailable):
    """The sign-in behind this request is over (refresh refused, session ended)."""


class TokenNotOffered(TokenUnavailable):
    """The portal gives this request no token, and trying again won't change that: the product
    declares no API audience, or the request came with a bearer token instead of a sign-in."""


@dataclass(frozen=True)
class PortalUser:
    id: int
    subject: str
    email: str
    name: str
    tier: Tier
    token_source: Callable[[], str] | None = field(default=None, compare=False, repr=False)

    def access_token(self) -> str:
        """A valid access token for the API the product declares (`audience` in its
        product.toml), as this user; refreshed first when near expiry. Never a token for the
        portal's own API, which would open every product and the admin console.

        Raises SignInAgain when the sign-in is over, TokenNotOffered when this request gets no
        token at all, TokenUnavailable when one can't be had right now.
        """
        if self.token_source is None:
            raise TokenUnavailable("this request carries no access token")
        return self.token_source()

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.subject

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "subject": self.subject,
            "email": self.email,
            "name": self.name,
            "tier": self.tier.value,
        }


@dataclass(frozen=True)
class ProductInfo:
    """A product as the portal knows it, handed to the product so it can name itself."""

    tier: Tier
    name: str
    title: str
    description: str = ""
    version: str = ""
    #: The API the product calls as its users (`audience` in product.toml): what their
    #: `access_token()` is for. Empty: the product gets no tokens.
    audience: str = ""
    #: The permissions it asks that API for (`scope`, space-separated); empty: the API's default.
    scope: str = ""
    #: Its services as the dashboard lists them (`[[entry_points]]`); empty: its root alone.
    entry_points: tuple[EntryPoint, ...] = ()
    #: Sub-paths that need a higher tier than the folder's (`[stricter_paths]`).
    stricter_paths: tuple[StricterPath, ...] = ()
    #: The command line the portal runs it with (see `auth.product_kinds`); empty: not a process.
    command: str = ""
    #: The server someone else runs that the portal fronts: an http(s) URL or `unix:/path`.
    upstream: str = ""
    #: The path on its server the portal asks to know a process or upstream product answers.
    health: str = DEFAULT_HEALTH
    #: Seconds the proxy waits for its server (to connect, or between two reads) before a 504.
    timeout: float = DEFAULT_TIMEOUT
    #: How the supervisor watches its running process (`[liveness]`); `command` products only.
    liveness: Liveness = DEFAULT_LIVENESS

    @property
    def kind(self) -> ProductKind:
        if self.command:
            return ProductKind.PROCESS
        if self.upstream:
            return ProductKind.UPSTREAM
        return ProductKind.WSGI

    @property
    def mount_path(self) -> str:
        return f"/{self.tier.value}/{self.name}"

    @property
    def key(self) -> str:
        return f"{self.tier.value}/{self.name}"

    def tier_at(self, path: str) -> Tier:
        """The tier a path inside the product needs: the folder's, or a stricter rule's."""
        return tier_at(self.tier, self.stricter_paths, path) if self.stricter_paths else self.tier


def read_product_info(
    tier: Tier,
    folder: Path,
    *,
    reserved_audiences: Collection[str] = (),
    portal_addresses: Collection[str] = (),
) -> ProductInfo:
    """A product's name and its optional `product.toml`; ValueError says what is wrong in it.

    `reserved_audiences` are APIs a product may not declare: a token for the portal's own API
    would let the product act in the portal (and its admin console) as whoever visits it.
    `portal_addresses` are where the portal listens, which no `upstream` or `command` may name."""
    path = folder / METADATA_FILE
    data: dict = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ValueError(str(error)) from None
    toml = parse_product_toml(data)
    if toml.audience in reserved_audiences:
        raise ValueError(
            f"audience {toml.audience!r} is reserved to the portal (its own API, or its identity "
            "provider's Management API); a product may declare only an API of its own"
        )
    refuse_the_portal(toml.upstream, toml.command, portal_addresses)
    liveness = toml.liveness
    return ProductInfo(
        tier=tier,
        name=folder.name,
        title=toml.title or folder.name,
        description=toml.description,
        version=toml.version,
        audience=toml.audience,
        scope=toml.scope,
        entry_points=tuple(EntryPoint(e.path, e.title, e.description) for e in toml.entry_points),
        stricter_paths=read_stricter_paths(toml.stricter_paths),
        command=toml.command,
        upstream=toml.upstream,
        health=toml.health,
        timeout=toml.timeout,
        liveness=Liveness(liveness.interval, liveness.timeout, liveness.failures),
    )
