"""Alertmanager webhook bodies as Alertmanager sends them (payload version 4).

Shapes follow Alertmanager's documented ``webhook_config`` payload: Go's
nanosecond timestamps, ``0001-01-01T00:00:00Z`` for an end not yet known,
``groupKey`` as the route's matchers and group labels.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

ZERO = "0001-01-01T00:00:00Z"


def go_time(value: dt.datetime) -> str:
    """RFC 3339 with nanoseconds, as Go's ``time.Time`` marshals."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}123Z"


def alert(
    fingerprint: str,
    *,
    status: str = "firing",
    labels: dict[str, str] | None = None,
    summary: str | None = None,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
) -> dict[str, Any]:
    labels = {"alertname": "ProbeFailure", "job": "blackbox", **(labels or {})}
    annotations = {"description": f"{labels.get('instance', 'a target')} is down"}
    if summary:
        annotations["summary"] = summary
    starts = starts_at or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": go_time(starts),
        "endsAt": go_time(ends_at) if ends_at else ZERO,
        "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0",
        "fingerprint": fingerprint,
    }


def payload(
    *alerts: dict[str, Any], group: str = "ProbeFailure", status: str | None = None
) -> dict[str, Any]:
    common = dict.fromkeys(["alertname"], alerts[0]["labels"]["alertname"])
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "receiver": "amends",
        "status": status or ("firing" if firing else "resolved"),
        "alerts": list(alerts),
        "groupLabels": {"alertname": group},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.org:9093",
        "version": "4",
        "groupKey": f'{{}}/{{severity=~"critical|warning"}}:{{alertname="{group}"}}',
        "truncatedAlerts": 0,
    }
