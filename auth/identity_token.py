"""Who is calling, told to a product that runs as a server of its own.

An in-process product reads the user from the WSGI environ; a process or upstream product gets
HTTP headers instead, set by the portal's proxy after every identity header the client sent was
removed (`auth.identity_headers`):

    X-Portal-User      the user's subject at the identity provider (`auth0|64f...`): stable
                       across portals and databases, the same as the token's `sub`
    X-Portal-Email     the user's email
    X-Portal-Name      the user's display name
    X-Portal-Tier      admin, devel, ea or stable
    X-Portal-Identity  an RS256 JWT saying all of that, signed by the portal

The plain headers are for a server only the portal can reach. One that other routes reach too
(a pod IP, a published port) checks the JWT instead: `iss` is the portal's base URL, `aud` the
product (`<tier>/<name>`, so a token for one product is refused by another), it expires after
60 s, and its `kid` names a key in the portal's `/.well-known/jwks.json`.

Header values are UTF-8, percent-encoded: printable ASCII other than `%` stays as it is, so
`urllib.parse.unquote` (or `decodeURIComponent`) gives back the exact value and no value can
carry a line break into the request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any
from urllib.parse import quote

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from auth.identity import PortalUser, ProductInfo

ALGORITHM = "RS256"
TOKEN_SECONDS = 60
#: A token is handed out again while it has this long left, so receivers always get at least
#: half of its life, and the portal signs once per user and product every half minute, not per
#: request.
REUSE_SECONDS = TOKEN_SECONDS // 2
MIN_KEY_BITS = 2048
USER_HEADER = "X-Portal-User"
EMAIL_HEADER = "X-Portal-Email"
NAME_HEADER = "X-Portal-Name"
TIER_HEADER = "X-Portal-Tier"
IDENTITY_HEADER = "X-Portal-Identity"
#: What `quote` leaves alone: printable ASCII except `%`.
_PLAIN = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
_CACHE_LIMIT = 10_000


def generate_key_pem(bits: int = MIN_KEY_BITS) -> str:
    """A new RSA private key in PEM: what PORTAL_IDENTITY_KEY holds."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_key(pem: str) -> rsa.RSAPrivateKey:
    """The RSA private key in `pem`; ValueError says why it can't sign identity tokens. A
    `\\n` written out (to keep the key on one line of an env file) counts as a line break."""
    text = pem.strip().replace("\\n", "\n")
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except TypeError:
        raise ValueError("is encrypted; give the key without a passphrase") from None
    except ValueError:
        raise ValueError("is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("must be an RSA key (identity tokens are RS256)")
    if key.key_size < MIN_KEY_BITS:
        raise ValueError(f"is a {key.key_size}-bit RSA key; use {MIN_KEY_BITS} bits or more")
    return key


class IdentityTokens:
    """Signs identity tokens and publishes the key that checks them.

    `key_pem` is asked for the key once, on first use, so a portal that serves no process
    product never reads (or, in development, generates) one.
    """

    def __init__(self, issuer: str, key_pem: Callable[[], str]) -> None:
        self.issuer = issuer
        self._key_pem = key_pem
        self._issued: dict[tuple[str, ...], tuple[str, int]] = {}
        self._lock = threading.Lock()

    @cached_property
    def _key(self) -> rsa.RSAPrivateKey:
        return load_key(self._key_pem())

    @cached_property
    def _public_jwk(self) -> dict[str, Any]:
        full = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        jwk = {k: full[k] for k in ("kty", "n", "e")}
        return {**jwk, "kid": _thumbprint(jwk), "use": "sig", "alg": ALGORITHM}

    @property
    def kid(self) -> str:
        return self._public_jwk["kid"]

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """What `/.well-known/jwks.json` serves: the public key alone."""
        return {"keys": [self._public_jwk]}

    def token(self, user: PortalUser, product: ProductInfo) -> str:
        """A JWT saying `user` calls `product`, valid for `TOKEN_SECONDS`."""
        now = int(time.time())
        claims = (user.subject, user.email, user.name, user.tier.value, product.key)
        issued = self._issued.get(claims)
        if issued is not None and issued[1] - now >= REUSE_SECONDS:
            return issued[0]
        token = jwt.encode(
            {
                "iss": self.issuer,
                "aud": product.key,
                "sub": user.subject,
                "email": user.email,
                "name": user.name,
                "tier": user.tier.value,
                "iat": now,
                "exp": now + TOKEN_SECONDS,
            },
            self._key,
            algorithm=ALGORITHM,
            headers={"kid": self.kid},
        )
        with self._lock:
            if len(self._issued) >= _CACHE_LIMIT:
                self._issued.clear()
            self._issued[claims] = (token, now + TOKEN_SECONDS)
        return token

    def identity_headers(self, identity: PortalUser, product: ProductInfo) -> list[tuple[str, str]]:
        """The headers a process or upstream product gets for a request by `identity`."""
        return [
            (USER_HEADER, _header_value(identity.subject)),
            (EMAIL_HEADER, _header_value(identity.email)),
            (NAME_HEADER, _header_value(identity.name)),
            (TIER_HEADER, identity.tier.value),
            (IDENTITY_HEADER, self.token(identity, product)),
        ]


def _header_value(value: str) -> str:
    return quote(value, safe=_PLAIN)


def _thumbprint(jwk: dict[str, Any]) -> str:
    """The key's RFC 7638 thumbprint: the same `kid` in every worker and after restarts."""
    members = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(members.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
