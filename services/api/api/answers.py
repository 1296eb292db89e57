"""JSON answers with an ETag (304 on If-None-Match), kept per data version.

A read's answer depends only on its URL and on what is stored; the data version (see
`Reader.data_version`) changes whenever the allocator, ingest or the graph writes.
Answers are kept per (URL, data version), so a dashboard asking the same question
again is answered without recomputing it (decision record 0170).
"""

from __future__ import annotations

import gzip
import hashlib
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import orjson
from fastapi import Request, Response

__all__ = ["AnswerCache", "json_answer"]

Producer = Callable[[], Awaitable[Any]]
_CACHE_CONTROL = "private, no-cache"
_GZIP_FROM = 1024  # bytes; smaller answers go as they are


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal)):  # asyncpg's UUID subclasses uuid's
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


class AnswerCache:
    """The last `entries` answers (body and ETag), least recently used dropped."""

    def __init__(self, entries: int) -> None:
        self._entries = entries
        self._kept: OrderedDict[tuple[str, str], _Kept] = OrderedDict()

    async def answer(
        self, request: Request, version: str, produce: Producer
    ) -> Response:
        """The answer to this request at this data version, computed at most once."""
        key = (_canonical_url(request), version)
        kept = self._kept.get(key)
        if kept is None:
            kept = _Kept.of(orjson.dumps(await produce(), default=_default))
            if self._entries:
                self._kept[key] = kept
                if len(self._kept) > self._entries:
                    self._kept.popitem(last=False)
        else:
            self._kept.move_to_end(key)
        return _respond(request, kept)


class _Kept:
    """A serialised answer, its ETag and, when large, its gzip form (compressed
    once, not once per request)."""

    __slots__ = ("body", "etag", "gzipped")

    def __init__(self, body: bytes, etag: str, gzipped: bytes | None) -> None:
        self.body, self.etag, self.gzipped = body, etag, gzipped

    @classmethod
    def of(cls, body: bytes) -> _Kept:
        packed = gzip.compress(body, 6, mtime=0) if len(body) >= _GZIP_FROM else None
        return cls(body, _etag(body), packed)


def json_answer(request: Request, payload: Any) -> Response:
    """An answer that is not kept (it depends on more than the stored data)."""
    return _respond(request, _Kept.of(orjson.dumps(payload, default=_default)))


def _canonical_url(request: Request) -> str:
    query = sorted(request.query_params.multi_items())
    return request.url.path + "?" + "&".join(f"{k}={v}" for k, v in query)


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _respond(request: Request, kept: _Kept) -> Response:
    headers = {
        "ETag": kept.etag,
        "Cache-Control": _CACHE_CONTROL,
        "Vary": "Accept-Encoding",
    }
    wanted = request.headers.get("if-none-match", "")
    if wanted and (wanted.strip() == "*" or kept.etag in _tags(wanted)):
        return Response(status_code=304, headers=headers)
    accepted = request.headers.get("accept-encoding", "")
    if kept.gzipped is not None and "gzip" in accepted:
        headers["Content-Encoding"] = "gzip"
        return Response(kept.gzipped, media_type="application/json", headers=headers)
    return Response(kept.body, media_type="application/json", headers=headers)


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",")}
