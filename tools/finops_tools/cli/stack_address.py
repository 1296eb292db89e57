"""Where the commands that talk to a running stack find it: as `finops dev status` does.

`KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` win when set; otherwise the dev stack's
addresses, from the same settings `finops dev up` used (FINOPS_KAFKA_PORT,
FINOPS_POSTGRES_PORT, external Kafka or database). A stack that does not answer is
one line naming the address, not a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

from finops.contracts.settings import DevStackSettings, KafkaSettings, PostgresSettings
from finops.errors import StackError
from finops_tools.devstack import Stack

__all__ = ["dev_stack", "kafka_settings", "postgres_settings", "reach", "stack_token"]

T = TypeVar("T")


def dev_stack() -> Stack:
    """The local stack as `finops dev up/down/status` see it."""
    settings = DevStackSettings()
    return Stack(
        settings,
        external_kafka=settings.external_kafka,
        external_database=settings.external_database_url,
    )


def stack_token(given: str | None = None) -> str | None:
    """The bearer token for the stack's services: `given` (--token), FINOPS_TOKEN, or
    the dev stack's admin token file; None when there is none."""
    if given:
        return given
    settings = DevStackSettings()
    if settings.token:
        return settings.token
    try:
        return (settings.state_dir / "admin.token").read_text().strip() or None
    except OSError:
        return None


def kafka_settings() -> KafkaSettings:
    if "KAFKA_BOOTSTRAP_SERVERS" in os.environ:
        return KafkaSettings()
    return KafkaSettings(bootstrap_servers=dev_stack().bootstrap_servers)


def postgres_settings() -> PostgresSettings:
    if "DATABASE_URL" in os.environ:
        return PostgresSettings()
    return PostgresSettings(DATABASE_URL=dev_stack().database_url)


def reach(what: str, address: str, work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; if the server at `address` does not answer, one StackError line."""
    from aiokafka.errors import KafkaConnectionError

    # aiokafka logs each refused connection; the error below says it once.
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    try:
        return asyncio.run(work)
    except (OSError, KafkaConnectionError, TimeoutError) as exc:
        raise StackError(
            f"cannot reach {what} at {_shown(address)} ({type(exc).__name__}); "
            "start the stack with `finops dev up`, or point "
            "KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL at yours"
        ) from None


def _shown(address: str) -> str:
    """An address without its password."""
    if "@" in address and "://" in address:
        scheme, rest = address.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return address
