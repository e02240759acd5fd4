"""The holding updates as a Procrastinate periodic task, for ``amends worker``.

Registered on the deliveries app (``delivery.jobs.Deliveries``) from here,
because posting an update is a flow the delivery layer may not call. Every
minute one worker (the queueing lock keeps it to one job at a time) posts the
overdue holding updates and enqueues their rows at once; were two to run,
the claim in :mod:`amends.cadence.holding` still posts each update once.
"""

from __future__ import annotations

import asyncio

from amends.cadence import holding
from amends.db import session_factory
from amends.delivery.jobs import QUEUE, Deliveries

HOLDING = "amends.cadence.holding_updates"


def install(deliveries: Deliveries) -> None:
    """Add the periodic holding-update task to this worker's app."""

    async def holding_updates(timestamp: int) -> int:
        sessions = session_factory(deliveries.engine)
        posted = await asyncio.to_thread(holding.post_overdue, sessions=sessions)
        if posted:
            await deliveries.enqueue_unfinished()
        return len(posted)

    task = deliveries.app.task(name=HOLDING, queue=QUEUE, queueing_lock=HOLDING)(holding_updates)
    deliveries.app.periodic(cron="* * * * *", periodic_id="holding_updates")(task)
