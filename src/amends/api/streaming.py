"""Turn a function that *writes* to a file into an iterator an HTTP response can *read*.

Exports (:func:`amends.impact.export.export`) write rows to a ``TextIO`` as the
database hands them over, so a million-row export never sits in memory. A
streaming response wants the opposite: an iterator of chunks. The writer runs
in a worker thread and hands chunks over a small bounded queue, so a slow
client slows the export down instead of letting it pile up in memory; when the
client goes away the writer is told to stop at its next write.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TextIO

logger = logging.getLogger("amends.api")

CHUNK_CHARS = 64 * 1024
QUEUE_CHUNKS = 8
_POLL_SECONDS = 0.5
_DONE = object()


class _Cancelled(Exception):
    """The reader went away; unwind the writer."""


class _QueueWriter(io.TextIOBase):
    """A text file whose writes are buffered into chunks and queued as UTF-8 bytes."""

    def __init__(self, chunks: queue.Queue[object], cancelled: threading.Event) -> None:
        super().__init__()
        self._chunks = chunks
        self._cancelled = cancelled
        self._parts: list[str] = []
        self._size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= CHUNK_CHARS:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._parts:
            data = "".join(self._parts).encode("utf-8")
            self._parts, self._size = [], 0
            _put(self._chunks, data, self._cancelled)


def _put(chunks: queue.Queue[object], item: object, cancelled: threading.Event) -> None:
    """Block while the reader is behind, but notice when it has gone."""
    while True:
        if cancelled.is_set():
            raise _Cancelled
        try:
            chunks.put(item, timeout=_POLL_SECONDS)
            return
        except queue.Full:
            continue


def stream_writes(produce: Callable[[TextIO], object], *, name: str) -> Iterator[bytes]:
    """Yield what ``produce(out)`` writes to ``out``, as it writes it.

    The thread starts on the first ``next()``: by then the request's own unit
    of work has committed, so on SQLite the export's transaction never waits
    for the request's. An error in ``produce`` is re-raised here, mid-stream:
    the response is cut short (no final chunk), which HTTP clients report as an
    incomplete transfer rather than a silently truncated file.
    """
    chunks: queue.Queue[object] = queue.Queue(maxsize=QUEUE_CHUNKS)
    cancelled = threading.Event()

    def run() -> None:
        try:
            out = _QueueWriter(chunks, cancelled)
            produce(out)  # type: ignore[arg-type]  # a TextIOBase is a text file
            out.flush()
            _put(chunks, _DONE, cancelled)
        except _Cancelled:
            pass
        except BaseException as exc:  # handed to the reader, which re-raises it
            try:
                _put(chunks, exc, cancelled)
            except _Cancelled:
                logger.warning("%s failed after its reader left: %r", name, exc)

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = chunks.get()
            if item is _DONE:
                worker.join()  # it has nothing left to do but exit
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item
    finally:
        # Never join here: this may run wherever the generator is collected,
        # even on the event loop. The worker exits at its next write.
        cancelled.set()
