"""API tokens: scopes, the token text, and what a scope allows (pure)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from finops.errors import AuthenticationError

__all__ = [
    "TOKEN_PREFIX",
    "IssuedToken",
    "Scope",
    "TokenRecord",
    "allows",
    "digest_matches",
    "issue_token",
    "parse_token",
    "secret_digest",
]

TOKEN_PREFIX: Final = "fin"
# fin_<id>_<secret>: the id (12 base32 characters) names the stored record, the secret
# (43 url-safe characters, 256 bits) is stored only as its SHA-256.
_TOKEN: Final = re.compile(r"^fin_([a-z2-7]{12})_([A-Za-z0-9_-]{43})$")
_ID_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz234567"


class Scope(StrEnum):
    """What a token may do. `admin` includes the others."""

    READ = "read"  # read costs, results, budgets
    INGEST = "ingest"  # deliver bills and usage
    ADMIN = "admin"  # change the graph, budgets, webhooks, actions; manage ingest


def allows(held: frozenset[Scope], needed: Scope) -> bool:
    """Whether a token holding `held` may do what `needed` guards."""
    return needed in held or Scope.ADMIN in held


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: its text is shown once; only `digest` is stored."""

    token_id: str
    text: str
    digest: str


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token (never its secret)."""

    token_id: str
    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def is_valid(self, now: datetime) -> bool:
        """Neither revoked nor expired at `now`."""
        expired = self.expires_at is not None and self.expires_at <= now
        return self.revoked_at is None and not expired


def issue_token() -> IssuedToken:
    """A fresh random token."""
    token_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    return IssuedToken(
        token_id, f"{TOKEN_PREFIX}_{token_id}_{secret}", secret_digest(secret)
    )


def parse_token(text: str) -> tuple[str, str]:
    """(token id, secret) of a token's text; AuthenticationError if malformed."""
    match = _TOKEN.fullmatch(text.strip())
    if match is None:
        raise AuthenticationError("malformed token (expected fin_<id>_<secret>)")
    return match[1], match[2]


def secret_digest(secret: str) -> str:
    """What is stored of a secret: its SHA-256 in hex (the secret has 256 random
    bits, so a slow hash adds nothing)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def digest_matches(secret: str, digest: str) -> bool:
    """Constant-time comparison of a presented secret with a stored digest."""
    return hmac.compare_digest(secret_digest(secret), digest)
