"""Links that carry a secret token must not be written whole to the access log.

Uvicorn's access log prints each request's path, and the public pages' paths
are their tokens (``/r/<token>``, ``/rate/<token>/<score>``): anyone reading
the log could redeem a credit or answer for a customer. One filter per path
prefix keeps the first six characters of the token, enough to tell requests
apart when reading the log, and drops the rest.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOG = "uvicorn.access"
SHOWN = 6


class TokenRedaction(logging.Filter):
    """Shortens the token after ``prefix`` in every access-log record."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.pattern = re.compile(
            rf"({re.escape(prefix)})([A-Za-z0-9_.-]{{{SHOWN}}})[A-Za-z0-9_.-]*"
        )

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.pattern.sub(r"\1\2…", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def hide_tokens(prefix: str) -> None:
    """Install the filter for ``prefix`` once per process (apps are created many times)."""
    access = logging.getLogger(ACCESS_LOG)
    if not any(isinstance(f, TokenRedaction) and f.prefix == prefix for f in access.filters):
        access.addFilter(TokenRedaction(prefix))
