"""The two ways alerts arrive, read into one shape.

Alertmanager's webhook (payload ``version: "4"``): one POST per alert group,
``groupKey`` naming the group, each alert with ``status``, ``labels``,
``annotations``, ``startsAt``, ``endsAt`` (Go's zero time ``0001-01-01T00:00:00Z``
while unknown), ``generatorURL`` and ``fingerprint`` (a hash of the labels).
Unknown fields are ignored, so a newer Alertmanager that adds some still
gets through; a different ``version`` is refused, since its meaning could
have changed.

The generic webhook: one event per POST, for monitors that are not
Alertmanager (a cron job, an uptime checker, a script): ``fingerprint`` (or
``id``), ``status`` firing|resolved, ``severity``, ``summary``, and either
``components`` (catalog keys, optionally with a status each) or ``labels``
for the rules; ``group`` joins several events into one draft.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Literal

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field

from amends.incidents.models import ComponentStatus
from amends.intake.models import AlertStatus

ALERTMANAGER = "alertmanager"
WEBHOOK = "webhook"

_Labels = dict[str, str]


class AlertmanagerAlert(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: AlertStatus
    labels: _Labels
    annotations: _Labels = Field(default_factory=dict)
    starts_at: AwareDatetime = Field(alias="startsAt")
    ends_at: AwareDatetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = Field(default="", max_length=200)


class AlertmanagerPayload(BaseModel):
    """Alertmanager's webhook body (``webhook_config``), version 4."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: Literal["4"]
    group_key: str = Field(alias="groupKey", min_length=1, max_length=1000)
    truncated_alerts: int = Field(default=0, ge=0, alias="truncatedAlerts")
    status: AlertStatus
    receiver: str = ""
    group_labels: _Labels = Field(default_factory=dict, alias="groupLabels")
    common_labels: _Labels = Field(default_factory=dict, alias="commonLabels")
    common_annotations: _Labels = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[AlertmanagerAlert] = Field(min_length=1)


class Event(BaseModel):
    """The generic webhook's body: one event from any monitor."""

    model_config = ConfigDict(extra="forbid")

    fingerprint: str = Field(
        validation_alias=AliasChoices("fingerprint", "id"),
        min_length=1,
        max_length=200,
        description="Stable id of the problem: the same value updates the same draft.",
    )
    status: AlertStatus = AlertStatus.firing
    group: str | None = Field(
        default=None, min_length=1, max_length=1000, description="Events of a group share a draft."
    )
    severity: str = Field(default="", max_length=100)
    summary: str = Field(default="", max_length=300)
    description: str = ""
    labels: _Labels = Field(default_factory=dict, description="Matched by the intake rules.")
    components: dict[str, ComponentStatus | None] | list[str] | None = Field(
        default=None,
        description="Catalog keys (optionally with a status each); bypasses the rules.",
    )
    started_at: AwareDatetime | None = Field(default=None, description="Default: now.")
    ended_at: AwareDatetime | None = None
    url: str = Field(default="", description="Where to see the problem (a dashboard).")


@dataclass(frozen=True)
class Incoming:
    """One alert, whichever way it came: what the service works with."""

    source: str
    group_key: str
    fingerprint: str
    status: AlertStatus
    labels: _Labels
    annotations: _Labels
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    generator_url: str = ""
    severity: str | None = None
    components: dict[str, ComponentStatus | None] | None = None


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """UTC, with Go's zero time (``0001-01-01T00:00:00Z``: not known) as None."""
    if value is None or value.year <= 1:
        return None
    return value.astimezone(dt.UTC)


def label_fingerprint(labels: _Labels) -> str:
    """For senders that omit the fingerprint: the same labels, the same value."""
    canonical = json.dumps(labels, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def from_alertmanager(payload: AlertmanagerPayload) -> list[Incoming]:
    return [
        Incoming(
            source=ALERTMANAGER,
            group_key=payload.group_key,
            fingerprint=alert.fingerprint or label_fingerprint(alert.labels),
            status=alert.status,
            labels=dict(alert.labels),
            annotations=dict(alert.annotations),
            starts_at=_utc(alert.starts_at),
            ends_at=_utc(alert.ends_at),
            generator_url=alert.generator_url,
        )
        for alert in payload.alerts
    ]


def from_event(event: Event) -> Incoming:
    components = event.components
    if isinstance(components, list):
        components = dict.fromkeys(components)
    annotations = {
        k: v for k, v in (("summary", event.summary), ("description", event.description)) if v
    }
    return Incoming(
        source=WEBHOOK,
        group_key=event.group or event.fingerprint,
        fingerprint=event.fingerprint,
        status=event.status,
        labels=dict(event.labels),
        annotations=annotations,
        starts_at=_utc(event.started_at),
        ends_at=_utc(event.ended_at),
        generator_url=event.url,
        severity=event.severity,
        components=components,
    )
