"""Dispatch: lease ledger rows, render them, hand them to channels, record results.

The same code runs inline (a thread in ``amends serve``, the CLI, the demo)
and distributed (Procrastinate jobs, :mod:`amends.delivery.jobs`). A batch is
*claimed* by one UPDATE that sets a lease (PostgreSQL skips rows another
worker has locked; SQLite serialises writers with ``BEGIN IMMEDIATE``),
sent in chunks, and each chunk's results are recorded set-based in their own
transaction. A worker killed between a provider's "accepted" and that commit
resends at most one chunk once its lease expires: the in-flight window.
Every step is conditional on the row's state and lease owner, so running a
batch twice, or two workers on one range, never sends a row twice while a
lease holds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.orm import Session

from amends.config import Settings
from amends.db import (
    driver_time,
    read_only,
    session_factory,
    unit_of_work,
    update_many,
    utcnow,
)
from amends.delivery import metrics
from amends.delivery.channels.base import Channel, Outcome, SendResult, channel_class
from amends.delivery.models import Delivery, DeliveryState
from amends.messages.notices import NoticeRenderer, Row

LEDGER_CHANNELS = ("email", "sms", "voice", "webhook", "chat")
log = logging.getLogger(__name__)
_T = Delivery.__table__


@dataclass(frozen=True)
class Policy:
    """How hard to try. ``chunk_size`` bounds duplicates after a crash."""

    batch_size: int = 1000
    chunk_size: int = 100
    lease_seconds: float = 120.0
    max_attempts: int = 8
    backoff_base: float = 30.0
    backoff_cap: float = 3600.0


@dataclass
class Tally:
    """What a run of the dispatcher did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        for k, v in other.by_channel.items():
            self.by_channel[k] = self.by_channel.get(k, 0) + v


def worker_name() -> str:
    """Unique per process and start: a lease names who holds it."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def backoff(
    attempts: int,
    policy: Policy,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next try: exponential with jitter ("equal jitter", so
    retries of a mass failure spread out but never come sooner than half the
    step), and never sooner than the provider's Retry-After."""
    step = min(policy.backoff_cap, policy.backoff_base * 2 ** max(0, attempts - 1))
    delay = step / 2 + (rng or random).uniform(0, step / 2)
    return max(delay, retry_after or 0.0)


def claim(
    *,
    session: Session,
    owner: str,
    limit: int,
    lease_seconds: float,
    channels: Sequence[str],
    first_id: int | None = None,
    last_id: int | None = None,
    notice_ids: Sequence[int] | None = None,
    now: dt.datetime | None = None,
) -> list[tuple[Row, int]]:
    """Lease up to ``limit`` due rows: expired leases first, then pending rows
    in id order. Returns (row, attempts including this one). Flushes nothing
    else; the caller commits so other workers see the lease."""
    now = now or utcnow()
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    conditions = [
        and_(_T.c.state == DeliveryState.sending.value, _T.c.lease_until < now),
        and_(_T.c.state == DeliveryState.pending.value, _T.c.next_attempt_at <= now),
    ]
    claimed: list[tuple[Row, int]] = []
    for due in conditions:
        wanted = limit - len(claimed)
        if wanted <= 0:
            break
        pick = select(_T.c.id).where(due, _T.c.channel.in_(channels))
        if first_id is not None:
            pick = pick.where(_T.c.id >= first_id)
        if last_id is not None:
            pick = pick.where(_T.c.id <= last_id)
        if notice_ids is not None:
            pick = pick.where(_T.c.notice_id.in_(notice_ids))
        pick = pick.order_by(_T.c.id).limit(wanted).with_for_update(skip_locked=True)
        stmt = (
            update(_T)
            .where(_T.c.id.in_(pick.scalar_subquery()))
            .values(
                state=DeliveryState.sending.value,
                lease_owner=owner,
                lease_until=lease_until,
                attempts=_T.c.attempts + 1,
            )
            .returning(
                _T.c.id,
                _T.c.notice_id,
                _T.c.recipient_kind,
                _T.c.recipient_id,
                _T.c.channel,
                _T.c.address,
                _T.c.locale,
                _T.c.attempts,
            )
        )
        for i, notice, kind, rid, channel, address, locale, attempts in session.execute(stmt):
            claimed.append((Row(i, notice, str(kind), rid, channel, address, locale), attempts))
    claimed.sort(key=lambda pair: pair[0].delivery_id)
    return claimed


def renew(
    *,
    session: Session,
    owner: str,
    ids: Sequence[int],
    lease_seconds: float,
    now: dt.datetime | None = None,
) -> set[int]:
    """Extend the lease on ``ids`` that this worker still holds; returns them.

    Called right before each chunk is sent: a row whose lease expired while
    its batch waited and that another worker took over is left out, so the
    only rows ever sent twice are those in flight when a worker died.
    """
    now = now or utcnow()
    stmt = (
        update(_T)
        .where(
            _T.c.id.in_(list(ids)),
            _T.c.state == DeliveryState.sending.value,
            _T.c.lease_owner == owner,
        )
        .values(lease_until=now + dt.timedelta(seconds=lease_seconds))
        .returning(_T.c.id)
    )
    return set(session.scalars(stmt))


def record(
    *,
    session: Session,
    owner: str,
    results: Sequence[SendResult],
    attempts: Mapping[int, int],
    policy: Policy = Policy(),
    now: dt.datetime | None = None,
    rng: random.Random | None = None,
) -> Tally:
    """Write results: one executemany per outcome, each guarded by
    ``state = 'sending' AND lease_owner = owner`` so a row another worker took
    over is left to that worker."""
    now = now or utcnow()
    tally = Tally()
    sent, retry, failed = [], [], []
    for r in results:
        if r.outcome is Outcome.SENT:
            sent.append({"b_id": r.delivery_id, "b_provider": r.provider_id})
        elif r.outcome is Outcome.RETRY and attempts.get(r.delivery_id, 1) < policy.max_attempts:
            delay = backoff(attempts.get(r.delivery_id, 1), policy, r.retry_after, rng)
            retry.append(
                {
                    "b_id": r.delivery_id,
                    "b_error": r.error or "temporary failure",
                    "b_next": now + dt.timedelta(seconds=delay),
                }
            )
        else:
            error = r.error or "failed"
            if r.outcome is Outcome.RETRY:
                error = f"gave up after {attempts.get(r.delivery_id, 1)} attempts: {error}"
            failed.append({"b_id": r.delivery_id, "b_error": error})
    conn = session.connection()
    mine = {"state": DeliveryState.sending.value, "lease_owner": owner}
    released = {"lease_owner": None, "lease_until": None}
    update_many(
        conn,
        table="deliveries",
        key="id",
        values=[("provider_id", "text")],
        rows=[(r["b_id"], r["b_provider"]) for r in sent],
        constants={
            "state": DeliveryState.sent.value,
            "sent_at": driver_time(conn, now),
            "last_error": None,
            **released,
        },
        guard=mine,
    )
    update_many(
        conn,
        table="deliveries",
        key="id",
        values=[("next_attempt_at", "timestamptz"), ("last_error", "text")],
        rows=[(r["b_id"], driver_time(conn, r["b_next"]), r["b_error"]) for r in retry],
        constants={"state": DeliveryState.pending.value, **released},
        guard=mine,
    )
    update_many(
        conn,
        table="deliveries",
        key="id",
        values=[("last_error", "text")],
        rows=[(r["b_id"], r["b_error"]) for r in failed],
        constants={"state": DeliveryState.failed.value, **released},
        guard=mine,
    )
    tally.sent, tally.retried, tally.failed = len(sent), len(retry), len(failed)
    return tally


def make_channel(name: str, settings: Settings) -> Channel:
    """An instance of the channel registered as ``name``, built from the
    settings: ``cls.from_settings(settings)`` when the class offers it, else
    ``cls(settings)`` (the shipped channels' constructor)."""
    cls = channel_class(name)
    factory = getattr(cls, "from_settings", None)
    return factory(settings) if callable(factory) else cls(settings)  # type: ignore[call-arg]


class Dispatcher:
    """Claims, renders, sends and records; channels are opened once and reused."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        policy: Policy = Policy(),
        channels: Mapping[str, Channel] | None = None,
        owner: str | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.policy = policy
        self.owner = owner or worker_name()
        self.channels: dict[str, Channel] = dict(channels or {})
        self._explicit = channels is not None
        self._writes = session_factory(engine)
        self._reads = session_factory(read_only(engine))
        self.renderer = NoticeRenderer(
            public_url=settings.public_url, sender=settings.notice_sender
        )
        self._opened = False
        self._locks: dict[tuple[str, asyncio.AbstractEventLoop], asyncio.Lock] = {}

    async def open(self) -> None:
        """Open every channel this process can use (explicit ones, else every
        registered channel that builds from the settings)."""
        if self._opened:
            return
        if not self._explicit:
            for name in LEDGER_CHANNELS:
                try:
                    self.channels[name] = make_channel(name, self.settings)
                except KeyError:
                    continue  # not installed here: its rows wait for a worker that has it
                except Exception:  # not configured here (no credentials): same
                    log.warning("channel %s not available here", name, exc_info=True)
        for name, channel in list(self.channels.items()):
            try:
                await channel.open()
            except Exception:
                if self._explicit:
                    raise
                log.warning("channel %s failed to open; its rows wait", name, exc_info=True)
                del self.channels[name]
        self._opened = True

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
        self._opened = False

    async def run_batch(
        self,
        first_id: int | None = None,
        last_id: int | None = None,
        notice_ids: Sequence[int] | None = None,
    ) -> Tally:
        """Claim one batch (optionally inside an id range, or of some notices) and deliver it."""
        await self.open()
        claimed = await asyncio.to_thread(self._claim, first_id, last_id, notice_ids)
        tally = Tally(claimed=len(claimed))
        by_channel: dict[str, list[tuple[Row, int]]] = {}
        for row, attempts in claimed:
            by_channel.setdefault(row.channel, []).append((row, attempts))
        for name, rows in by_channel.items():
            channel = self.channels[name]
            size = max(1, min(self.policy.chunk_size, channel.limits.max_batch))
            for start in range(0, len(rows), size):
                tally.add(await self._deliver(channel, rows[start : start + size]))
        return tally

    async def drain(
        self,
        *,
        first_id: int | None = None,
        last_id: int | None = None,
        notice_ids: Sequence[int] | None = None,
        progress: Callable[[Tally], None] | None = None,
        lanes: int = 2,
    ) -> Tally:
        """Run batches until nothing is due; ``lanes`` batches in flight at once."""
        total = Tally()

        async def lane() -> None:
            while True:
                done = await self.run_batch(first_id, last_id, notice_ids)
                if not done.claimed:
                    return
                total.add(done)
                if progress:
                    progress(total)

        await asyncio.gather(*(lane() for _ in range(max(1, lanes))))
        return total

    def _claim(
        self, first_id: int | None, last_id: int | None, notice_ids: Sequence[int] | None
    ) -> list[tuple[Row, int]]:
        with unit_of_work(self._writes) as session:
            return claim(
                session=session,
                owner=self.owner,
                limit=self.policy.batch_size,
                lease_seconds=self.policy.lease_seconds,
                channels=sorted(self.channels),
                first_id=first_id,
                last_id=last_id,
                notice_ids=notice_ids,
            )

    async def _deliver(self, channel: Channel, rows: list[tuple[Row, int]]) -> Tally:
        def render() -> list:  # type: ignore[type-arg]
            with unit_of_work(self._reads) as session:
                return self.renderer.render(session, [row for row, _ in rows])

        def still_mine() -> set[int]:
            with unit_of_work(self._writes) as session:
                return renew(
                    session=session,
                    owner=self.owner,
                    ids=[row.delivery_id for row, _ in rows],
                    lease_seconds=self.policy.lease_seconds,
                )

        messages = await asyncio.to_thread(render)
        # One send at a time per channel: lanes overlap database work with
        # sending, while the channel parallelises on its own connections
        # (a pooled SMTP client must not be entered twice at once).
        lock = self._locks.setdefault((channel.name, asyncio.get_running_loop()), asyncio.Lock())
        await lock.acquire()
        started = time.perf_counter()
        try:
            # Right before sending: keep only rows whose lease is still ours
            # (one that expired while the batch waited may be another's now).
            held = await asyncio.to_thread(still_mine)
            messages = [m for m in messages if m.delivery_id in held]
            rows = [pair for pair in rows if pair[0].delivery_id in held]
            results = await channel.send(messages) if messages else []
        except Exception as exc:  # a broken channel: the whole chunk tries again later
            results = [
                SendResult(m.delivery_id, Outcome.RETRY, error=f"{type(exc).__name__}: {exc}")
                for m in messages
            ]
        finally:
            lock.release()
        metrics.SEND_SECONDS.labels(channel.name).observe(time.perf_counter() - started)
        attempts = {row.delivery_id: n for row, n in rows}

        def save() -> Tally:
            with unit_of_work(self._writes) as session:
                return record(
                    session=session,
                    owner=self.owner,
                    results=results,
                    attempts=attempts,
                    policy=self.policy,
                )

        tally = await asyncio.to_thread(save)
        metrics.SENT.labels(channel.name).inc(tally.sent)
        metrics.FAILED.labels(channel.name).inc(tally.failed)
        metrics.RETRIED.labels(channel.name).inc(tally.retried)
        tally.by_channel[channel.name] = tally.sent
        return tally


class InlineWorker:
    """The embedded default: one thread running an asyncio loop that drains
    the ledger whenever it is kicked (and every ``idle_seconds`` anyway, for
    retries coming due). Channels are opened once for the thread's life."""

    def __init__(self, dispatcher: Dispatcher, *, idle_seconds: float = 5.0) -> None:
        self.dispatcher = dispatcher
        self.idle_seconds = idle_seconds
        self.total = Tally()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="amends-dispatch", daemon=True)

    def start(self) -> InlineWorker:
        self._thread.start()
        return self

    def kick(self) -> None:
        """New rows are waiting: look now."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    await self.dispatcher.open()
                    self.total.add(await self.dispatcher.drain())
                except Exception:  # the database or a channel is down: try again later
                    log.exception("inline dispatch failed; retrying in %s s", self.idle_seconds)
                await asyncio.to_thread(self._wake.wait, self.idle_seconds)
                self._wake.clear()
        finally:
            await self.dispatcher.close()
