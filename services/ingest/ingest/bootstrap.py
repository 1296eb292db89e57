"""Builds the ingest service's app and its collaborators."""

from __future__ import annotations

from fastapi import FastAPI

from finops.adapters.http_runtime import create_service_app

from ingest.metrics import REGISTRY
from ingest.settings import IngestSettings

__all__ = ["create_app"]


def create_app(settings: IngestSettings) -> FastAPI:
    """The service's HTTP app; connections open in its lifespan."""
    return create_service_app("ingest", kafka=settings.kafka, postgres=settings.postgres,
                              registry=REGISTRY)
