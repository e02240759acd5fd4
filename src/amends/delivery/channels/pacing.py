"""Sending a batch at the limiter's pace, several requests in flight.

Every channel that makes one provider call per message (SMS, voice, webhooks,
chat) sends a batch the same way: take a slot from the rate limiter, start the
call, keep at most ``concurrency`` calls running, and when the quota is used up
(or the provider asked for a long pause) answer RETRY for the rest of the batch
instead of holding it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from amends.delivery.channels.base import Message, Outcome, SendResult
from amends.delivery.ratelimit import QuotaExhausted, RateLimiter, Slot


async def send_paced(
    messages: Sequence[Message],
    send_one: Callable[[Message], Awaitable[SendResult]],
    *,
    limiter: RateLimiter,
    concurrency: int,
) -> list[SendResult]:
    """One result per message, in order."""
    results: list[SendResult | None] = [None] * len(messages)
    slots = asyncio.Semaphore(concurrency)
    tasks: list[asyncio.Task[None]] = []

    async def one(index: int, message: Message, slot: Slot) -> None:
        try:
            results[index] = await send_one(message)
        except Exception as exc:  # never lose a result: the ledger must hear of it
            results[index] = SendResult(message.delivery_id, Outcome.RETRY, error=repr(exc))
        finally:
            limiter.finished(slot)
            slots.release()

    for index, message in enumerate(messages):
        await slots.acquire()
        try:
            slot = await limiter.acquire(reports_end=True)
        except QuotaExhausted as exc:
            slots.release()
            for position in range(index, len(messages)):
                results[position] = SendResult(
                    messages[position].delivery_id,
                    Outcome.RETRY,
                    error=str(exc),
                    retry_after=exc.retry_after,
                )
            break
        tasks.append(asyncio.create_task(one(index, message, slot)))
    await asyncio.gather(*tasks)
    return [result for result in results if result is not None]
