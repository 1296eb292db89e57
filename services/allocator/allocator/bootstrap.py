"""Builds the allocator service's app and its collaborators."""

from __future__ import annotations

from fastapi import FastAPI

from finops.adapters.http_runtime import create_service_app

from allocator.metrics import REGISTRY
from allocator.settings import AllocatorSettings

__all__ = ["create_app"]


def create_app(settings: AllocatorSettings) -> FastAPI:
    """The service's HTTP app; connections open in its lifespan."""
    return create_service_app("allocator", kafka=settings.kafka, postgres=settings.postgres,
                              registry=REGISTRY)
