"""The local development stack: real Kafka, real PostgreSQL and the services."""

from finops_tools.devstack.stack import ComponentStatus, Stack, StartReport

__all__ = ["ComponentStatus", "Stack", "StartReport"]
