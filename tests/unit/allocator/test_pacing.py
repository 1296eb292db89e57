"""The rest between recompute passes: longer while results are fresher than the
target, none when they are not, never longer than three times the pass before it."""

from __future__ import annotations

import pytest

from allocator.pacing import MAX_REST_S, SHARE, Pacing, weighted_median


def test_the_median_counts_each_value_as_often_as_its_events() -> None:
    assert weighted_median([]) is None
    assert weighted_median([(0.3, 0)]) is None
    assert weighted_median([(0.9, 1), (0.2, 1), (0.5, 1)]) == 0.5
    assert weighted_median([(0.9, 1), (0.2, 5)]) == 0.2
    assert weighted_median([(0.9, 5), (0.2, 4)]) == 0.9
    assert weighted_median([(0.2, 1), (0.9, 1)]) == 0.2  # the lower of an even split


def _pass(pacing: Pacing, latency_s: float, took_s: float, events: int = 10) -> float:
    pacing.stored([(latency_s, events)])
    return pacing.rest_after(took_s)


def test_fresh_results_lengthen_the_rest_by_half_the_gap_each_pass() -> None:
    pacing = Pacing(0.8)
    assert _pass(pacing, 0.4, took_s=0.5) == pytest.approx(0.2)
    assert _pass(pacing, 0.6, took_s=0.5) == pytest.approx(0.3)
    assert _pass(pacing, 0.8, took_s=0.5) == pytest.approx(0.3)  # on target: held
    assert _pass(pacing, 1.0, took_s=0.5) == pytest.approx(0.2)  # stale: shorter


def test_stale_results_end_the_rest() -> None:
    pacing = Pacing(0.8)
    _pass(pacing, 0.2, took_s=0.5)
    assert _pass(pacing, 3.0, took_s=0.5) == 0.0
    assert pacing.rest_s == 0.0


def test_a_rest_is_at_most_three_times_the_pass_before_it_nor_the_maximum() -> None:
    assert SHARE == 3.0
    pacing = Pacing(5.0)
    assert _pass(pacing, 0.1, took_s=0.05) == pytest.approx(0.15)
    rest = _pass(pacing, 0.1, took_s=30.0)  # the gap would step it to 2.5 s
    assert rest == pytest.approx(MAX_REST_S)


def test_a_quiet_spell_stores_up_no_rest_for_the_busy_passes_after_it() -> None:
    pacing = Pacing(0.8)
    for _ in range(50):  # light load: short passes, fresh results
        _pass(pacing, 0.1, took_s=0.02)
    # The first long pass rests no longer than the quiet ones allowed, plus one step.
    assert _pass(pacing, 0.7, took_s=0.6) == pytest.approx(3 * 0.02 + 0.05)


def test_a_pass_that_stored_nothing_keeps_the_rest() -> None:
    pacing = Pacing(0.8)
    _pass(pacing, 0.4, took_s=0.5)
    assert pacing.rest_after(0.5) == pytest.approx(0.2)


def test_each_pass_is_steered_by_its_own_latencies_only() -> None:
    pacing = Pacing(0.8)
    _pass(pacing, 3.0, took_s=0.5)  # stale, forgotten once the rest is set
    assert _pass(pacing, 0.4, took_s=0.5) == pytest.approx(0.2)


def test_a_target_of_zero_never_rests() -> None:
    pacing = Pacing(0.0)
    assert [_pass(pacing, 0.05, took_s=0.5) for _ in range(5)] == [0.0] * 5
