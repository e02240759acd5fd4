"""Rendered bytes kept in memory, dropped when the incidents or components change.

Under a stampede every request is a dictionary lookup. At most once every
``statuspage_cache_seconds`` one request asks the database for the change
token (a few aggregates); when it differs, the snapshot is reloaded and the
rendered files are forgotten, to be rendered again on first request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy.orm import Session

from amends.config import Settings
from amends.statuspage import service
from amends.statuspage.site import Site

SessionFactory = Callable[[], AbstractContextManager[Session]]


class SiteCache:
    def __init__(self, settings: Settings, reading: SessionFactory) -> None:
        self.settings = settings
        self._reading = reading
        self._lock = threading.Lock()
        self._token: str | None = None
        # the site and the files rendered from it, swapped together so a
        # render from an old snapshot can never land in the new cache
        self._state: tuple[Site, dict[tuple[str, str | None], bytes]] | None = None
        self._checked = 0.0

    def stale(self) -> bool:
        """True when the change token is due for a check (cheap, no I/O)."""
        return time.monotonic() - self._checked >= self.settings.statuspage_cache_seconds

    def refresh(self) -> None:
        """Check the change token; reload the snapshot when it moved. Blocking."""
        with self._lock:
            if not self.stale() and self._state is not None:
                return
            with self._reading() as session:
                token = service.change_token(session=session)
                if token != self._token or self._state is None:
                    self._state = (Site.load(session=session, settings=self.settings), {})
                    self._token = token
            self._checked = time.monotonic()

    def invalidate(self) -> None:
        """Forget everything now (an operator just changed an incident)."""
        with self._lock:
            self._checked = 0.0
            self._token = None

    def cached(self, path: str, lang: str | None = None) -> tuple[bool, bytes | None]:
        """(found in cache, bytes): no locking, no I/O — the hot path."""
        state = self._state
        if state is not None and (path, lang) in state[1]:
            return True, state[1][(path, lang)]
        return False, None

    def get(self, path: str, lang: str | None = None) -> bytes | None:
        """Render (and remember) ``path``. Blocking: call from a worker thread."""
        if self._state is None or self.stale():
            self.refresh()
        state = self._state
        assert state is not None
        site, files = state
        if (path, lang) in files:
            return files[(path, lang)]
        data = site.render(path, lang=lang)
        if data is not None:  # never remember misses: random URLs must not grow memory
            files[(path, lang)] = data
        return data
