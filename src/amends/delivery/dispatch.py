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
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import Engine

from amends.catalog.models import Subscriber
from amends.config import Settings
from amends.credits.models import BillingEndpoint
from amends.db import read_only, session_factory, unit_of_work
from amends.delivery import call_lists, metrics, slices
from amends.delivery.billing import queue_credit_events
from amends.delivery.channels.base import Channel, Outcome, SendResult, channel_class
from amends.delivery.endpoints import record_endpoint_results
from amends.delivery.leases import (
    Policy,
    Tally,
    backoff,
    claim,
    record,
    renew,
    stamp_first_sent,
    worker_name,
)
from amends.delivery.pausing import Skips
from amends.messages.notices import NoticeRenderer, Row
from amends.preferences import service as preferences

__all__ = [
    "Dispatcher",
    "InlineWorker",
    "Policy",
    "Tally",
    "backoff",
    "claim",
    "make_channel",
    "record",
    "renew",
    "worker_name",
]

LEDGER_CHANNELS = ("email", "sms", "voice", "webhook", "chat", "billing")
log = logging.getLogger(__name__)


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
        # Notices known to carry their first-send stamp: stamped once per process.
        self._stamped: set[int] = set()
        # Id ranges of paused notices the claim reads around (delivery/pausing.py).
        self._skips = Skips()

    async def open(self) -> None:
        """Open every channel this process can use (explicit ones, else every
        registered channel that builds from the settings).

        Under a lock: ``drain`` runs its lanes at once, and a second lane
        entering while the first awaited the signing key built every channel
        again, replacing ones the first lane may already have sent through;
        their SMTP connections were never closed."""
        if self._opened:
            return
        lock = self._locks.setdefault(("(open)", asyncio.get_running_loop()), asyncio.Lock())
        async with lock:
            if not self._opened:
                await self._open_channels()

    async def _open_channels(self) -> None:
        if self.renderer.unsubscribe_key is None:
            self.renderer.unsubscribe_key = await asyncio.to_thread(self._signing_key)
        if not self._explicit:
            for name in LEDGER_CHANNELS:
                try:
                    self.channels[name] = make_channel(name, self.settings)
                except KeyError:
                    continue  # not installed here: its rows wait for a worker that has it
                except Exception as exc:  # not configured here (no credentials): same
                    log.warning("channel %s is not configured here, its rows wait: %s", name, exc)
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
            if "billing" in self.channels:  # credit events written since: owe them first
                queue_credit_events(session=session)
            return claim(
                session=session,
                skip=self._skips.ranges(session=session),
                owner=self.owner,
                limit=self.policy.batch_size,
                lease_seconds=self.policy.lease_seconds,
                channels=sorted(self.channels),
                first_id=first_id,
                last_id=last_id,
                notice_ids=notice_ids,
            )

    def catch_up(self) -> int:
        """Write the rows of notices written in two steps (their first slice
        already sent, or left half-written by a dead process), and owe
        automated calls to the customers whose call list's deadline passed
        unreached. Set-based, safe to run from several places at once;
        returns how many rows were added."""
        with unit_of_work(self._writes) as session:
            filled = slices.fill_pending(session=session)
        with unit_of_work(self._writes) as session:
            return filled + call_lists.escalate(session=session).total

    def _signing_key(self) -> bytes:
        with unit_of_work(self._writes) as session:
            return preferences.signing_key(session=session)

    def _gave_up(self, result: SendResult, attempts: Mapping[int, int]) -> bool:
        """A failure that counts against the endpoint: refused, or out of attempts
        (what :func:`record` writes as failed)."""
        if result.outcome is Outcome.FAILED:
            return True
        tries = attempts.get(result.delivery_id, 1)
        return result.outcome is Outcome.RETRY and tries >= self.policy.max_attempts

    async def _deliver(self, channel: Channel, rows: list[tuple[Row, int]]) -> Tally:
        def render() -> list:  # type: ignore[type-arg]
            batch = [row for row, _ in rows]
            with unit_of_work(self._reads) as session:
                if not self.renderer.writes(session, batch):
                    return self.renderer.render(session, batch)
            # Apologies create their redemption links: on SQLite a read
            # transaction could not upgrade to a write once another commit landed.
            with unit_of_work(self._writes) as session:
                return self.renderer.render(session, batch)

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

        endpoints = {
            kind: {r.delivery_id: r.recipient_id for r, _ in rows if r.recipient_kind == kind}
            for kind in ("subscriber", "billing")
        }

        sent = {r.delivery_id for r in results if r.outcome is Outcome.SENT}
        first = {row.notice_id for row, _ in rows if row.delivery_id in sent} - self._stamped

        def save() -> Tally:
            with unit_of_work(self._writes) as session:
                tally = record(
                    session=session,
                    owner=self.owner,
                    results=results,
                    attempts=attempts,
                    policy=self.policy,
                )
                if first:  # when customers began to hear: the cadence counts from it
                    stamp_first_sent(session=session, notice_ids=sorted(first))
                for kind, table in (("subscriber", Subscriber), ("billing", BillingEndpoint)):
                    owners = endpoints[kind]
                    if owners:  # endpoints that keep failing are switched off
                        record_endpoint_results(
                            session=session,
                            succeeded=[
                                owners[r.delivery_id]
                                for r in results
                                if r.outcome is Outcome.SENT and r.delivery_id in owners
                            ],
                            failed=[
                                owners[r.delivery_id]
                                for r in results
                                if r.delivery_id in owners and self._gave_up(r, attempts)
                            ],
                            disable_after=self.settings.webhook_disable_after,
                            endpoints=table,
                        )
                return tally

        tally = await asyncio.to_thread(save)
        self._stamped |= first
        metrics.SENT.labels(channel.name).inc(tally.sent)
        metrics.FAILED.labels(channel.name).inc(tally.failed)
        metrics.RETRIED.labels(channel.name).inc(tally.retried)
        tally.by_channel[channel.name] = tally.sent
        return tally


class InlineWorker:
    """The embedded default: one thread running an asyncio loop that drains
    the ledger whenever it is kicked (and every ``idle_seconds`` anyway, for
    retries coming due). Channels are opened once for the thread's life.
    Each round drains, then writes the rest of notices written in two steps
    and escalates the call lists whose deadline passed, and drains again."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        idle_seconds: float = 5.0,
        chore: Callable[[], object] | None = None,
        chore_seconds: float = 30.0,
    ) -> None:
        self.dispatcher = dispatcher
        self.idle_seconds = idle_seconds
        # Work a higher layer wants done on the same clock (the holding updates
        # of amends.cadence), run before a drain so what it owes goes out at once.
        self.chore = chore
        self.chore_seconds = chore_seconds
        self._chore_at = 0.0
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

    async def _chore(self) -> None:
        if self.chore is None or time.monotonic() - self._chore_at < self.chore_seconds:
            return
        self._chore_at = time.monotonic()
        try:
            await asyncio.to_thread(self.chore)
        except Exception:
            log.exception("inline worker chore failed; trying again in %s s", self.chore_seconds)

    async def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                await self._chore()
                try:
                    await self.dispatcher.open()
                    self.total.add(await self.dispatcher.drain())  # a first slice, first
                    if await asyncio.to_thread(self.dispatcher.catch_up):
                        self.total.add(await self.dispatcher.drain())
                except Exception:  # the database or a channel is down: try again later
                    log.exception("inline dispatch failed; retrying in %s s", self.idle_seconds)
                await asyncio.to_thread(self._wake.wait, self.idle_seconds)
                self._wake.clear()
        finally:
            await self.dispatcher.close()
