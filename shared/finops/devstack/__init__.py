"""The local development stack: a real Kafka broker, a real PostgreSQL and the services."""

from finops.devstack.stack import ComponentStatus, Stack, StartReport

__all__ = ["ComponentStatus", "Stack", "StartReport"]
