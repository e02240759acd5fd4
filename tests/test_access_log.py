"""Token links are never written whole to the access log (/r/ redemption, /rate/ ratings)."""

from __future__ import annotations

import logging

import pytest

from amends.api.access_log import ACCESS_LOG, TokenRedaction, hide_tokens


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/r/Mmv9peVhUi4W87P-AWdznDWxUdrmCyOMZZPkscTml-I", "/r/Mmv9pe…"),
        ("/rate/12.345.a.AbCdEfGhIjKlMnOpQrStUv/4", "/rate/12.345…/4"),
        ("/api/v1/incidents/1", "/api/v1/incidents/1"),
    ],
)
def test_the_token_keeps_only_a_hint(path: str, logged: str) -> None:
    record = logging.LogRecord(
        ACCESS_LOG, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200), None,
    )  # fmt: skip
    for prefix in ("/r/", "/rate/"):
        assert TokenRedaction(prefix).filter(record)
    assert record.getMessage() == f'127.0.0.1:5000 - "GET {logged} HTTP/1.1" 200'


def test_each_prefix_is_installed_once() -> None:
    access = logging.getLogger(ACCESS_LOG)
    for _ in range(3):
        hide_tokens("/r/")
        hide_tokens("/rate/")
    prefixes = [f.prefix for f in access.filters if isinstance(f, TokenRedaction)]
    assert sorted(prefixes) == ["/r/", "/rate/"]
