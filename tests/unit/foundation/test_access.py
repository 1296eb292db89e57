"""API tokens, pure: the text of a token, scopes, validity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from finops.domain.access import (
    Scope,
    TokenRecord,
    allows,
    digest_matches,
    issue_token,
    parse_token,
)
from finops.errors import AuthenticationError

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def test_an_issued_token_parses_back_to_its_id_and_a_secret_matching_its_digest() -> (
    None
):
    issued = issue_token()
    token_id, secret = parse_token(issued.text)
    assert token_id == issued.token_id
    assert digest_matches(secret, issued.digest)
    assert not digest_matches(secret + "x", issued.digest)
    assert secret not in issued.digest


def test_two_tokens_differ() -> None:
    assert issue_token().text != issue_token().text


@pytest.mark.parametrize(
    "text",
    ["", "Bearer x", "fin_abc_def", "fin_ABCDEFGHIJKL_" + "a" * 43, "tok_" + "a" * 56],
)
def test_a_malformed_token_is_refused_with_its_expected_shape(text: str) -> None:
    with pytest.raises(AuthenticationError, match="fin_<id>_<secret>"):
        parse_token(text)


def test_admin_allows_everything_and_other_scopes_only_themselves() -> None:
    assert allows(frozenset({Scope.ADMIN}), Scope.READ)
    assert allows(frozenset({Scope.ADMIN}), Scope.INGEST)
    assert allows(frozenset({Scope.READ}), Scope.READ)
    assert not allows(frozenset({Scope.READ}), Scope.ADMIN)
    assert not allows(frozenset({Scope.READ}), Scope.INGEST)
    assert not allows(frozenset({Scope.INGEST}), Scope.READ)


def test_a_token_is_invalid_once_revoked_or_expired() -> None:
    fresh = TokenRecord("a", "n", frozenset({Scope.READ}), created_at=NOW)
    assert fresh.is_valid(NOW)
    expiring = TokenRecord(
        "a", "n", frozenset(), created_at=NOW, expires_at=NOW + timedelta(days=1)
    )
    assert expiring.is_valid(NOW)
    assert not expiring.is_valid(NOW + timedelta(days=1))
    revoked = TokenRecord("a", "n", frozenset(), created_at=NOW, revoked_at=NOW)
    assert not revoked.is_valid(NOW)
