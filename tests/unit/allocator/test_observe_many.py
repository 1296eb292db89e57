"""metrics.observe_many: a batch of observations as observing them one at a time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from allocator.metrics import observe_many

_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def _histogram() -> tuple[CollectorRegistry, Histogram]:
    registry = CollectorRegistry()
    return registry, Histogram("waits", "w", buckets=_BUCKETS, registry=registry)


def _lines(registry: CollectorRegistry) -> dict[str, float]:
    """Samples by name and labels (the creation time left out)."""
    samples = {}
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("#") or "_created" in line:
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return samples


values = st.one_of(
    st.sampled_from([0.0, *_BUCKETS, -1.0, 11.0]),
    st.floats(min_value=-5, max_value=50, allow_nan=False),
)


@given(st.lists(st.tuples(values, st.integers(min_value=0, max_value=4))))
def test_buckets_count_and_sum_as_one_at_a_time(
    samples: list[tuple[float, int]],
) -> None:
    one_registry, one = _histogram()
    many_registry, many = _histogram()
    for value, count in samples:
        for _ in range(count):
            one.observe(value)
    observe_many(many, samples)
    expected, got = _lines(one_registry), _lines(many_registry)
    assert expected.keys() == got.keys()
    for name, value in expected.items():
        if name.endswith("_sum"):  # float additions in another order
            assert abs(got[name] - value) <= 1e-9 * max(1.0, abs(value))
        else:
            assert got[name] == value, name


def test_a_child_of_a_labelled_histogram() -> None:
    registry = CollectorRegistry()
    family = Histogram("w", "w", ["topic"], buckets=_BUCKETS, registry=registry)
    observe_many(family.labels("usage"), [(0.3, 2), (7.0, 1)])
    samples = _lines(registry)
    assert samples['w_bucket{le="0.25",topic="usage"}'] == 0
    assert samples['w_bucket{le="0.5",topic="usage"}'] == 2
    assert samples['w_bucket{le="+Inf",topic="usage"}'] == 3
    assert samples['w_count{topic="usage"}'] == 3
