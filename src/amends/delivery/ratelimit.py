"""Rate limits per (channel, provider): a per-second pace, a daily quota, pauses.

Carriers cap SMS at 1–100 messages a second per sender, and a provider that is
sent more answers 429 and may block the sender. The target (DESIGN.md §7) is to
hold 95–100 % of the configured rate and never exceed it in any one-second
window, measured at the receiving end.

Why not ``aiolimiter``: ``benchmarks/rates.py`` measures it beside this one.
``AsyncLimiter(rate, 1)`` is a leaky bucket that lets a whole second's worth
through at once, so the first second carries nearly twice the rate;
``AsyncLimiter(1, 1/rate)`` never bursts but paces each message from the
*actual* time of the previous one, so every late wake-up of the event loop is
lost for good and 100/s falls under 95 %. This limiter paces from an absolute
schedule (late wake-ups are caught up) and checks a sliding window of the last
``rate`` sends (the catch-up can never exceed the rate in any second).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
import time
from collections import deque
from collections.abc import Callable

__all__ = [
    "QuotaExhausted",
    "RateLimiter",
    "Slot",
    "backoff",
    "limiter_for",
    "parse_retry_after",
    "reset_limiters",
]


class QuotaExhausted(Exception):
    """No send is allowed before ``retry_after`` seconds: the daily quota is
    used up, or the provider asked for a pause longer than a batch should wait."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(f"{reason}; retry in {retry_after:.0f} s")
        self.reason = reason
        self.retry_after = retry_after


def _seconds_to_utc_midnight(now: dt.datetime) -> float:
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


#: Longest wait for a burst's first request to report its end (longer than any
#: channel's request timeout); past it, its send time anchors the window.
END_WAIT = 30.0


class Slot:
    """One send the limiter let go. The caller says when its request finished
    (:meth:`RateLimiter.finished`), so the first send of a burst can be
    anchored on when the provider certainly had it."""

    __slots__ = ("done", "finished", "sent")

    def __init__(self, sent: float) -> None:
        self.sent = sent
        self.done: float | None = None
        self.finished = asyncio.Event()


class RateLimiter:
    """One provider account's pace.

    ``await acquire()`` returns when one message may go; it raises
    :class:`QuotaExhausted` instead of waiting longer than ``max_wait`` seconds
    (quota used up for the day, or a long 429 pause), so the dispatcher can
    release the batch and try again later rather than hold a lease idle.

    ``margin`` (seconds) widens the sliding window a little so that jitter in
    network latency cannot push ``rate + 1`` requests into one second at the
    provider's end.

    The first send of a burst (a fresh schedule) usually opens a connection,
    so it may reach the provider tens of milliseconds after it left while the
    next ones, on a warm connection, arrive on time: measured at 10/s, that
    put 11 requests into one second at the server. So the window of the
    burst's first send is anchored on when its request *finished* (the
    provider had it by then), not when it left; later sends keep their send
    times, so a steady state pays nothing for the provider's latency.
    """

    def __init__(
        self,
        per_second: float | None,
        per_day: int | None = None,
        *,
        max_wait: float = 60.0,
        margin: float = 0.03,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        if per_second is not None and per_second <= 0:
            raise ValueError("per_second must be positive")
        if per_day is not None and per_day <= 0:
            raise ValueError("per_day must be positive")
        self.per_second = per_second
        self.per_day = per_day
        self.max_wait = max_wait
        self._clock = clock
        self._wall = wall_clock
        self._lock = asyncio.Lock()
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._window = 1.0 + margin
        # Sliding window: the last floor(rate) send times (at least one).
        self._recent: deque[Slot] = deque(maxlen=max(1, math.floor(per_second or 1)))
        self._burst_first: Slot | None = None
        self._next_slot: float | None = None  # absolute schedule, no drift
        self._paused_until = 0.0
        self._day: dt.date | None = None
        self._sent_today = 0

    @property
    def sent_today(self) -> int:
        return self._sent_today

    def pause(self, seconds: float) -> None:
        """The provider said 429 / Retry-After: send nothing for ``seconds``."""
        until = self._clock() + max(0.0, seconds)
        if until > self._paused_until:
            self._paused_until = until
            self._next_slot = None  # restart the schedule after the pause; no catch-up burst

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    def _check_quota(self) -> None:
        if self.per_day is None:
            return
        now = self._wall()
        if now.date() != self._day:
            self._day, self._sent_today = now.date(), 0
        if self._sent_today >= self.per_day:
            raise QuotaExhausted(
                f"daily quota of {self.per_day} reached", _seconds_to_utc_midnight(now)
            )

    def _loop_lock(self) -> asyncio.Lock:
        """The lock, renewed when the limiter outlives its event loop (a lock is
        bound to the loop it first waited on)."""
        loop = asyncio.get_running_loop()
        if self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def acquire(self, *, reports_end: bool = False) -> Slot:
        """Wait for a slot; count it against the day's quota. A caller that
        reports each request's end with :meth:`finished` (``send_paced`` does)
        says so with ``reports_end``: only then is a burst's first send
        anchored on its end (waiting for an end nobody reports would hang)."""
        async with self._loop_lock():
            self._check_quota()
            paused = self.paused_for()
            if paused > self.max_wait:
                raise QuotaExhausted("provider asked to pause", paused)
            if paused:
                await asyncio.sleep(paused)
            slot = Slot(self._clock())
            if self.per_second is not None:
                slot = await self._wait_for_pace(reports_end)
            self._sent_today += 1
            return slot

    def finished(self, slot: Slot) -> None:
        """The slot's request is over (answered, failed or timed out)."""
        if slot.done is None:
            slot.done = self._clock()
            slot.finished.set()

    async def _anchor(self, oldest: Slot) -> float:
        """When the window of ``oldest`` starts: its send time, or for the first
        send of a burst, when its request finished (waiting for it if need be;
        a request ends at the latest at the channel's timeout; one that never
        reports, e.g. cancelled before it ran, is given up after ``END_WAIT``)."""
        if oldest is self._burst_first:
            try:  # a request cancelled before it ran never reports its end
                await asyncio.wait_for(oldest.finished.wait(), timeout=END_WAIT)
            except TimeoutError:
                return oldest.sent
            return max(oldest.sent, oldest.done or oldest.sent)
        return oldest.sent

    async def _wait_for_pace(self, reports_end: bool) -> Slot:
        assert self.per_second is not None
        interval = 1.0 / self.per_second
        fresh = False
        while True:
            now = self._clock()
            if self._next_slot is None or self._next_slot < now - self._window:
                # First send, or idle for over a window: start a fresh schedule.
                self._next_slot, fresh = now, True
            ready = self._next_slot
            if len(self._recent) == self._recent.maxlen:
                ready = max(ready, await self._anchor(self._recent[0]) + self._window)
            now = self._clock()
            if ready <= now:
                break
            await asyncio.sleep(ready - now)
        slot = Slot(now)
        if fresh:
            self._burst_first = slot if reports_end else None
        self._recent.append(slot)
        self._next_slot += interval
        return slot


_limiters: dict[tuple[str, str], RateLimiter] = {}


def limiter_for(
    channel: str, provider: str, per_second: float | None, per_day: int | None = None
) -> RateLimiter:
    """The one limiter of this process for a (channel, provider) pair.

    Every channel instance that sends through the same provider account shares
    it, so two batches running side by side still hold the account's rate. In
    distributed mode each worker process holds its own: give each worker its
    share of the provider's rate (``sms_per_second / workers``).
    """
    key = (channel, provider)
    limiter = _limiters.get(key)
    if limiter is None or (limiter.per_second, limiter.per_day) != (per_second, per_day):
        limiter = _limiters[key] = RateLimiter(per_second, per_day)
    return limiter


def reset_limiters() -> None:
    """Forget every shared limiter (tests, and a new event loop)."""
    _limiters.clear()


def backoff(
    attempt: int,
    *,
    base: float = 30.0,
    cap: float = 6 * 3600.0,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential with full jitter.

    ``uniform(0, min(cap, base * 2**(attempt-1)))`` — "full jitter" spreads
    the retries of a million messages that failed together (AWS Architecture
    Blog, "Exponential Backoff And Jitter"), so they do not all return at once.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 62))
    return rng() * ceiling


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """A ``Retry-After`` header (RFC 9110 §10.2.3: seconds or an HTTP date) in seconds."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
