"""Prometheus counters of intake, on ``/metrics`` with the delivery ones.

An ignored alert answers Alertmanager with success (retrying would not help),
so the count by outcome is where a rule that maps nothing shows up.
"""

from __future__ import annotations

from prometheus_client import Counter

from amends.intake.service import Received

ALERTS = Counter(
    "amends_intake_alerts",
    "Alerts received from monitoring, by source and what became of them",
    ["source", "outcome"],
)


def count(source: str, received: Received) -> None:
    for outcome in received.outcomes:
        ALERTS.labels(source=source, outcome=outcome.outcome).inc()
