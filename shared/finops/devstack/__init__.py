"""The local development stack: real Kafka, real PostgreSQL and the services."""

from finops.devstack.stack import ComponentStatus, Stack, StartReport

__all__ = ["ComponentStatus", "Stack", "StartReport"]
