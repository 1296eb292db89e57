"""The allocator's processing check: 503 with the reason when the graph follower
stopped, a pass fails, routing fails, or the router stalls while messages wait."""

from __future__ import annotations

from allocator.health import AllocatorHealth, Health


def test_healthy_while_idle_with_nothing_to_route() -> None:
    health = AllocatorHealth(stall_s=60)
    assert health.check(lag=0, idle_s=3600, router_failure="") == Health(True)


def test_a_router_that_has_not_advanced_with_messages_waiting_is_unhealthy() -> None:
    health = AllocatorHealth(stall_s=60)
    assert health.check(lag=5, idle_s=30, router_failure="").ok
    stalled = health.check(lag=5, idle_s=61, router_failure="")
    assert not stalled.ok and "not advanced for 61 s with 5 messages" in stalled.reason


def test_a_failing_pass_is_unhealthy_until_a_pass_works() -> None:
    health = AllocatorHealth(stall_s=60)
    health.pass_failed("ConnectionRefusedError: [Errno 111]")
    failing = health.check(lag=0, idle_s=0, router_failure="")
    assert failing == Health(
        False, "recompute pass failing: ConnectionRefusedError: [Errno 111]"
    )
    health.pass_done()
    assert health.check(lag=0, idle_s=0, router_failure="").ok


def test_routing_failures_and_a_stopped_follower_are_named() -> None:
    health = AllocatorHealth(stall_s=60)
    routing = health.check(lag=1, idle_s=0, router_failure="KafkaError: x")
    assert routing == Health(False, "routing failing: KafkaError: x")
    health.graph_stopped("EventDecodeError: not JSON")
    stopped = health.check(lag=0, idle_s=0, router_failure="")
    assert stopped.reason == "graph follower stopped: EventDecodeError: not JSON"
