"""Uploaded bodies streamed to a spool file, hashed on the way; never held in memory."""

from __future__ import annotations

import hashlib
import re
import shutil
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path

from ingest.limits import BodyTooLargeError

__all__ = ["Spooled", "remove_spooled", "safe_file_name", "spool"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Spooled:
    """A body on disk, under its own folder, with its sha256 and size."""

    path: Path
    content_hash: str
    size: int


def safe_file_name(name: str | None) -> str:
    """The base name of a client's file name, with only safe characters."""
    base = Path(name or "").name
    cleaned = _UNSAFE.sub("_", base).lstrip(".")
    return cleaned or "upload.csv"


async def spool(
    chunks: AsyncIterable[bytes],
    spool_dir: Path,
    file_name: str,
    *,
    max_bytes: int = 0,
) -> Spooled:
    """Write the chunks to `spool_dir/<uuid>/<file_name>`, hashing them; a body past
    `max_bytes` (0: no limit) raises BodyTooLargeError and leaves nothing behind."""
    folder = spool_dir / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path = folder / safe_file_name(file_name)
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if max_bytes and size > max_bytes:
                    raise BodyTooLargeError(
                        f"the body passes the configured size of {max_bytes:,} bytes"
                        " (INGEST_MAX_BODY_BYTES)",
                        file=file_name,
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:  # a client gone mid-upload leaves nothing behind
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Spooled(path, digest.hexdigest(), size)


def remove_spooled(spooled: Spooled) -> None:
    """Delete a spooled body and its folder."""
    shutil.rmtree(spooled.path.parent, ignore_errors=True)
