"""Prometheus metrics of the delivery engine, exported at ``/metrics``.

Counted where results are recorded, so they count what the ledger says,
not what a channel hoped.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SENT = Counter("amends_deliveries_sent", "Messages the provider accepted", ["channel"])
FAILED = Counter("amends_deliveries_failed", "Messages failed for good", ["channel"])
RETRIED = Counter("amends_deliveries_retried", "Temporary failures, tried again later", ["channel"])
SEND_SECONDS = Histogram(
    "amends_delivery_send_seconds",
    "Time a channel took to send one chunk of messages",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PENDING = Gauge("amends_deliveries_outstanding", "Ledger rows pending or leased")
PAUSED = Gauge("amends_notices_paused", "Notices whose sending an operator paused")
