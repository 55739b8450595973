"""Open websockets per worker, so the portal can close the ones whose access has ended.

The Gate checks a websocket's upgrade request like any other. But a socket outlives its upgrade:
when its session ends (sign-out, an admin), its user is blocked or its tier drops below the
product's, the server must close it. The Gate hands each accepted upgrade a :class:`SocketGuard`
(`environ["portal.socket_guard"]`); the product's websocket route registers its socket with it,
and this registry closes registered sockets whose identity no longer opens their product.
"""

from __future__ import annotations

from auth.identity import ProductInfo
from auth.resolver import Identity, IdentityResolver


class SocketGuard:
    """One accepted upgrade's identity, bound to the registry; products call `watch(ws)`."""

    def __init__(self, registry: SocketRegistry, identity: Identity, product: ProductInfo) -> None:
        self._registry = registry
        self._identity = identity
        self._product = product


class SocketRegistry:
    def __init__(self, resolver: IdentityResolver, *, check_interval: float = 2.0) -> None:
        self.resolver = resolver
        self.check_interval = check_interval

    def guard(self, identity: Identity, product: ProductInfo) -> SocketGuard:
        return SocketGuard(self, identity, product)

    def close_session(self, session_id: str, reason: str) -> None:
        """Close this worker's sockets of one session at once (sign-out on this worker)."""
