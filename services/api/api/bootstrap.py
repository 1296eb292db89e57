"""Builds the api service's app and its collaborators."""

from __future__ import annotations

from fastapi import FastAPI

from api.metrics import REGISTRY
from api.settings import ApiSettings
from finops.adapters.http_runtime import create_service_app

__all__ = ["create_app"]


def create_app(settings: ApiSettings) -> FastAPI:
    """The service's HTTP app; connections open in its lifespan."""
    return create_service_app(
        "api", kafka=settings.kafka, postgres=settings.postgres, registry=REGISTRY
    )
