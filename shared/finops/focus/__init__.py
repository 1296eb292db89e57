"""FOCUS ingest, offline part: read bills, normalise lines, map them to graph nodes."""

from __future__ import annotations

__all__: list[str] = []
