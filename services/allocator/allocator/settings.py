"""Settings of the allocator service (env prefix ALLOCATOR_)."""

from __future__ import annotations

import socket

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from finops.contracts.settings import ServiceSettings

__all__ = ["AllocatorSettings"]


class AllocatorSettings(ServiceSettings):
    """Loaded once in __main__ and passed down."""

    model_config = SettingsConfigDict(env_prefix="ALLOCATOR_", extra="ignore")
    http_port: int = 8101
    app_id: str = (
        "finops-allocator"  # the consumer group; the topic namespace prefixes it
    )
    snapshot_days: int = 32  # dates whose last results are kept to write only changes
    engine_days: int = 8  # dates whose engine is kept between recomputes
    # Deprecated, ignored: flows are no longer written but derived in PostgreSQL from
    # node rows and shares stored together (docs/decisions/0240). Still accepted so
    # an ALLOCATOR_FLOWS_EVERY_S left set does not stop the service.
    flows_every_s: float | None = None
    # Allocate in a process of its own (a second core; the event loop keeps one).
    # false: in a thread of the worker, sharing its GIL.
    compute_process: bool = True
    # Route source events in a process of their own (the worker's event loop keeps
    # folding in, feeding the compute process and writing). false: in the worker.
    router_process: bool = True
    # The median latency (source event ingested -> its node rows and flows stored)
    # the recompute loop aims at: passes rest while results are fresher than this,
    # so each folds in more events for the same work (decision 0310; 0.9 s since
    # 0410: a loaded machine crosses 1 s at the same load whatever the target).
    # 0: passes run back to back, for the freshest results at the most CPU.
    freshness_target_s: float = Field(default=0.9, ge=0.0)
    # Consecutive busy dates of a pass allocated by one engine, at most this many
    # (decision 0320: each date still from its own inputs, results identical). 1,
    # the default: each date on its own engine (on two cores grouping measured slower:
    # the dates' writes then contend instead of following the computes).
    group_days: int = Field(default=1, ge=1, le=7)  # le: group.MAX_GROUP_DAYS
    session_timeout_s: float = 10.0  # a dead worker's partitions move after this
    data_dir: str = ""  # Faust's data directory; empty: under the system temp directory
    # Static group membership (KIP-345): a worker restarted with the same id takes its
    # partitions back at once instead of waiting for the session timeout of the one
    # that died. Each worker needs its own id; empty: host name and HTTP port.
    # /healthz answers 503 when the router has not advanced for this long while
    # messages wait.
    stall_s: float = 60.0
    static_membership: bool = True
    group_instance_id: str = ""

    def instance_id(self) -> str | None:
        """This worker's group instance id, or None for dynamic membership."""
        if not self.static_membership:
            return None
        return self.group_instance_id or f"{socket.gethostname()}-{self.http_port}"
