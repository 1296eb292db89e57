"""Builds the governance service's app and its collaborators."""

from __future__ import annotations

from fastapi import FastAPI

from finops.adapters.http_runtime import create_service_app
from governance.metrics import REGISTRY
from governance.settings import GovernanceSettings

__all__ = ["create_app"]


def create_app(settings: GovernanceSettings) -> FastAPI:
    """The service's HTTP app; connections open in its lifespan."""
    return create_service_app(
        "governance",
        kafka=settings.kafka,
        postgres=settings.postgres,
        registry=REGISTRY,
    )
