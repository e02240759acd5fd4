"""The rate limiter: pace, daily quota, pauses, backoff."""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amends.delivery import ratelimit
from amends.delivery.ratelimit import (
    QuotaExhausted,
    RateLimiter,
    backoff,
    limiter_for,
    parse_retry_after,
    reset_limiters,
)


def max_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


async def _acquire_times(limiter: RateLimiter, n: int) -> list[float]:
    times: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        times.append(time.perf_counter())

    await asyncio.gather(*(one() for _ in range(n)))
    return times


@pytest.mark.parametrize("rate", [20, 100])
def test_pace_holds_the_rate_and_never_exceeds_it(rate: int) -> None:
    times = asyncio.run(_acquire_times(RateLimiter(rate), rate * 2 + 1))
    achieved = (len(times) - 1) / (max(times) - min(times))
    assert max_in_any_second(times) <= rate
    assert 0.90 * rate <= achieved <= rate  # 95 % in the benchmark; margin for a busy CI box


def test_late_wake_ups_are_caught_up_without_a_burst_over_the_rate() -> None:
    async def run() -> list[float]:
        limiter = RateLimiter(50)
        times = await _acquire_times(limiter, 25)
        time.sleep(0.2)  # the event loop is blocked: ten slots are missed
        times += await _acquire_times(limiter, 60)
        return times

    times = asyncio.run(run())
    assert max_in_any_second(times) <= 50
    # the missed slots were caught up: 85 sends take about 85/50 s, not 85/50 + 0.2
    assert max(times) - min(times) < (84 / 50) + 0.15


def test_daily_quota_raises_with_the_time_to_utc_midnight() -> None:
    now = dt.datetime(2026, 11, 23, 23, 0, tzinfo=dt.UTC)
    limiter = RateLimiter(None, per_day=3, wall_clock=lambda: now)

    async def run() -> None:
        for _ in range(3):
            await limiter.acquire()
        with pytest.raises(QuotaExhausted) as caught:
            await limiter.acquire()
        assert caught.value.retry_after == pytest.approx(3600)

    asyncio.run(run())
    assert limiter.sent_today == 3


def test_quota_resets_on_a_new_day() -> None:
    clock = [dt.datetime(2026, 11, 23, 23, 59, tzinfo=dt.UTC)]
    limiter = RateLimiter(None, per_day=1, wall_clock=lambda: clock[0])

    async def run() -> None:
        await limiter.acquire()
        with pytest.raises(QuotaExhausted):
            await limiter.acquire()
        clock[0] += dt.timedelta(minutes=2)
        await limiter.acquire()

    asyncio.run(run())


def test_pause_delays_and_a_long_pause_gives_up() -> None:
    async def run() -> None:
        limiter = RateLimiter(100, max_wait=5)
        await limiter.acquire()
        limiter.pause(0.3)
        started = time.perf_counter()
        await limiter.acquire()
        assert time.perf_counter() - started >= 0.29
        limiter.pause(30)
        with pytest.raises(QuotaExhausted) as caught:
            await limiter.acquire()
        assert 29 < caught.value.retry_after <= 30

    asyncio.run(run())


def test_a_shared_limiter_survives_a_new_event_loop() -> None:
    limiter = RateLimiter(50)
    for _ in range(2):  # contended in each loop: the lock must not stay bound to the first
        times = asyncio.run(_acquire_times(limiter, 5))
        assert len(times) == 5


def test_limiters_are_shared_per_channel_and_provider() -> None:
    reset_limiters()
    a = limiter_for("sms", "twilio", 10)
    assert limiter_for("sms", "twilio", 10) is a
    assert limiter_for("sms", "apprise", 10) is not a
    assert limiter_for("sms", "twilio", 20) is not a  # new settings, new limiter
    reset_limiters()


@given(st.integers(1, 200), st.floats(0, 1, exclude_max=True))
def test_backoff_is_full_jitter_under_an_exponential_cap(attempt: int, draw: float) -> None:
    delay = backoff(attempt, base=30, cap=3600, rng=lambda: draw)
    ceiling = min(3600, 30 * 2 ** (attempt - 1))
    assert 0 <= delay < ceiling or delay == 0
    assert delay == pytest.approx(draw * ceiling)


def test_backoff_grows_then_caps() -> None:
    top = [backoff(a, base=1, cap=60, rng=lambda: 0.999999) for a in range(1, 10)]
    assert top[:6] == pytest.approx([1, 2, 4, 8, 16, 32], rel=1e-3)
    assert top[6:] == pytest.approx([60, 60, 60], rel=1e-3)
    with pytest.raises(ValueError):
        backoff(0)


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Mon, 23 Nov 2026 12:01:30 GMT", now=now) == 90
    assert parse_retry_after("Mon, 23 Nov 2026 11:00:00 GMT", now=now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("cold", [0.0, 0.15])
def test_a_bursts_first_request_anchors_the_window_on_its_end(cold: float) -> None:
    """The first send of a burst opens a connection and may reach the provider
    ``cold`` seconds late; the send that would make rate + 1 in its window waits
    for one second after that request *ended*. Later sends keep their send
    times, so a warm steady state pays nothing."""

    async def run() -> tuple[float, list[float]]:
        limiter = RateLimiter(10)
        first = await limiter.acquire(reports_end=True)

        async def cold_request() -> None:
            await asyncio.sleep(cold)
            limiter.finished(first)

        ending = asyncio.create_task(cold_request())
        times = []
        for _ in range(12):
            slot = await limiter.acquire(reports_end=True)
            times.append(slot.sent)
            limiter.finished(slot)  # warm: answered at once
        await ending
        assert first.done is not None
        return first.done, times

    ended, times = asyncio.run(run())
    eleventh = times[9]  # the 11th send of the burst
    assert eleventh - ended >= 1.0
    # at the provider the first arrived at the latest when it ended: never 11 in a second
    assert max_in_any_second([ended, *times]) <= 10
    # the 12th is paced from the 2nd's send time: no second delay for the cold start
    assert times[10] - times[0] <= 1.0 + 0.03 + cold + 0.02


def test_a_first_request_that_never_reports_its_end_does_not_stop_the_limiter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request cancelled before it ran never calls ``finished``: the window falls
    back to its send time after END_WAIT instead of waiting for ever."""
    monkeypatch.setattr(ratelimit, "END_WAIT", 0.2)

    async def run() -> list[float]:
        limiter = RateLimiter(10)
        first = await limiter.acquire(reports_end=True)  # never finished
        return [first.sent] + [(await limiter.acquire()).sent for _ in range(10)]

    times = asyncio.run(asyncio.wait_for(run(), timeout=5))
    assert max_in_any_second(times) <= 10
