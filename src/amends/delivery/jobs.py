"""Distributed dispatch: Procrastinate jobs in PostgreSQL, run by ``amends worker``.

A job carries an id range of about a thousand ledger rows, never a message:
five million customers make ~5,000 jobs, which Procrastinate handles easily,
where five million jobs would not. The ledger stays the truth: a job only
says "look at rows first..last"; running it twice, or losing it, is harmless
because :func:`amends.delivery.dispatch.claim` only takes due rows, and the
periodic sweep re-enqueues every range that still holds due rows or expired
leases, so a lost enqueue or a dead worker only delays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from amends.config import Settings
from amends.db import make_engine, session_factory, unit_of_work
from amends.delivery import call_lists, ledger, slices
from amends.delivery.billing import queue_credit_events
from amends.delivery.channels.base import Channel
from amends.delivery.dispatch import Dispatcher, Policy

QUEUE = "amends_deliveries"
SEND_RANGE = "amends.deliveries.send_range"
SWEEP = "amends.deliveries.sweep"
ESCALATE = "amends.calls.escalate"


def conninfo(database_url: str) -> str:
    """A libpq connection string from an SQLAlchemy URL (``postgresql+psycopg://…``)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("distributed dispatch needs PostgreSQL (Procrastinate keeps jobs there)")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Deliveries:
    """The Procrastinate app with amends' two tasks, and what they share in a
    worker process: one engine and one dispatcher, channels opened once."""

    def __init__(
        self,
        settings: Settings,
        *,
        channels: Mapping[str, Channel] | None = None,
        policy: Policy = Policy(),
        range_size: int = 1000,
    ) -> None:
        self.settings = settings
        self.range_size = range_size
        self._channels = channels
        self._policy = policy
        self._engine: Engine | None = None
        self._dispatcher: Dispatcher | None = None
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=conninfo(settings.database_url))
        )
        self.send_range = self.app.task(name=SEND_RANGE, queue=QUEUE)(self._send_range)
        sweep = self.app.task(name=SWEEP, queue=QUEUE, queueing_lock=SWEEP)(self._sweep)
        self.sweep = self.app.periodic(cron="* * * * *", periodic_id="sweep")(sweep)
        escalate = self.app.task(name=ESCALATE, queue=QUEUE, queueing_lock=ESCALATE)(self._escalate)
        self.escalate = self.app.periodic(cron="* * * * *", periodic_id="escalate")(escalate)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    async def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(
                engine=self.engine,
                settings=self.settings,
                channels=self._channels,
                policy=self._policy,
            )
            await self._dispatcher.open()
        return self._dispatcher

    async def _send_range(self, first_id: int, last_id: int) -> dict[str, int]:
        dispatcher = await self.dispatcher()
        tally = await dispatcher.drain(first_id=first_id, last_id=last_id, lanes=1)
        return {"claimed": tally.claimed, "sent": tally.sent, "failed": tally.failed}

    async def _sweep(self, timestamp: int) -> int:
        return await self.enqueue_unfinished()

    async def _escalate(self, timestamp: int) -> int:
        """Every minute: automated calls for customers nobody reached in time,
        enqueued at once rather than at the next sweep."""
        return await self.escalate_now()

    async def escalate_now(self) -> int:
        with unit_of_work(session_factory(self.engine)) as session:
            done = call_lists.escalate(session=session)
        if done.total:
            await self.enqueue_unfinished()
        return done.total

    async def enqueue_unfinished(self) -> int:
        """Enqueue a job for every range holding due rows; returns how many
        were enqueued (a range whose job is still waiting is not enqueued twice)."""
        with unit_of_work(session_factory(self.engine)) as session:
            queue_credit_events(session=session)  # credit events become ledger rows first
        with unit_of_work(session_factory(self.engine)) as session:
            slices.fill_pending(session=session)  # a notice its writer left half-written
        with unit_of_work(session_factory(self.engine)) as session:
            ranges = ledger.unfinished_ranges(session=session, size=self.range_size)
        return await self.enqueue(ranges)

    async def enqueue(self, ranges: Iterable[tuple[int, int]]) -> int:
        count = 0
        for first, last in ranges:
            deferrer = self.send_range.configure(queueing_lock=f"{SEND_RANGE}:{first}")
            try:
                await deferrer.defer_async(first_id=first, last_id=last)
            except AlreadyEnqueued:
                continue
            count += 1
        return count

    async def ensure_schema(self) -> None:
        """Create Procrastinate's tables the first time (``amends worker`` does it)."""
        connector = self.app.connector
        found = await connector.execute_query_one_async(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
        )
        if not found["present"]:
            await self.app.schema_manager.apply_schema_async()

    async def run_worker(self, **options: Any) -> None:
        """Run a worker on the deliveries queue (``wait=False``: until it is empty)."""
        try:
            await self.app.run_worker_async(queues=[QUEUE], **options)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._dispatcher is not None:
            await self._dispatcher.close()
            self._dispatcher = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def enqueue_now(settings: Settings) -> int:
    """From a process that is not a worker (CLI, API): enqueue jobs for every
    range with due rows, now, instead of waiting for the next sweep."""
    import asyncio

    async def go() -> int:
        deliveries = Deliveries(settings)
        try:
            async with deliveries.app.open_async():
                await deliveries.ensure_schema()
                return await deliveries.enqueue_unfinished()
        finally:
            await deliveries.close()

    return asyncio.run(go())
