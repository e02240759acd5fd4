"""The intake rules and the payload parsers, without a database: matchers in
Alertmanager's syntax, routing, clear errors for bad files, and properties of
the Alertmanager parser over generated alert groups."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from amends.errors import ValidationFailed
from amends.incidents.models import ComponentStatus
from amends.intake import rules as intake_rules
from amends.intake.models import AlertStatus
from amends.intake.payloads import (
    AlertmanagerPayload,
    Event,
    from_alertmanager,
    from_event,
    label_fingerprint,
)
from amends.intake.rules import Ignored, Matcher, Route, RuleSet, parse, parse_matcher

DOCS = Path(__file__).parents[1] / "docs" / "intake.md"


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('env="prod"', {"env": "prod"}, True),
        ('env="prod"', {"env": "production"}, False),
        ("env=prod", {"env": "prod"}, True),
        ('env!="prod"', {"env": "staging"}, True),
        ('env!="prod"', {}, True),
        ('env=""', {}, True),
        ('job=~"api|web"', {"job": "web"}, True),
        ('job=~"api|web"', {"job": "webhook"}, False),  # the whole value
        ('job!~"api.*"', {"job": "apiserver"}, False),
        ('job!~"api.*"', {"job": "dns"}, True),
        ('msg="say \\"hi\\""', {"msg": 'say "hi"'}, True),
        ('  team = "ops"  ', {"team": "ops"}, True),
    ],
)
def test_matchers_behave_like_alertmanagers(
    text: str, labels: dict[str, str], expected: bool
) -> None:
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("env", "is not a matcher"),
        ('1env="x"', "is not a matcher"),
        ('env="unclosed', "not closed"),
        ('job=~"(api"', "not a regular expression"),
        ("env=1", None),  # unquoted: the text "1"
    ],
)
def test_bad_matchers_say_what_is_wrong(text: str, complaint: str | None) -> None:
    if complaint is None:
        assert parse_matcher(text) == Matcher("env", "=", "1")
        return
    with pytest.raises(ValueError, match=complaint):
        parse_matcher(text)


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(name=_names, op=st.sampled_from(["=", "!=", "=~", "!~"]), value=_values)
def test_a_matcher_reads_back_what_it_prints(name: str, op: str, value: str) -> None:
    if op in ("=~", "!~"):
        value = re.escape(value)
    matcher = Matcher(name, op, value)
    assert parse_matcher(str(matcher)) == matcher


def test_without_a_file_the_component_label_decides() -> None:
    rules = intake_rules.load(None)
    route = rules.route({"component": "dns", "severity": "critical"})
    assert isinstance(route, Route)
    assert route.components == {"dns": ComponentStatus.major_outage}
    assert route.publish is False and route.resolve is False
    missing = rules.route({"alertname": "Disk"})
    assert isinstance(missing, Ignored)
    assert "'component'" in missing.reason


def test_the_first_matching_rule_wins_and_sets_the_status() -> None:
    rules = parse(
        """
        default_status = "degraded_performance"
        [[rules]]
        name = "dns-critical"
        matchers = ['alertname="DNSDown"', 'severity="critical"']
        components = ["dns"]
        publish = ["critical"]
        [[rules]]
        name = "dns"
        matchers = ['alertname="DNSDown"']
        components = ["dns"]
        status_by_severity = {warning = "partial_outage"}
        [[rules]]
        name = "fixed"
        matchers = ['alertname="Mail"']
        components = ["email"]
        component_label = "also"
        status = "major_outage"
        """
    )
    first = rules.route({"alertname": "DNSDown", "severity": "critical"})
    assert isinstance(first, Route)
    assert (first.rule, first.publish) == ("dns-critical", True)
    assert first.components == {"dns": ComponentStatus.major_outage}
    second = rules.route({"alertname": "DNSDown", "severity": "warning"})
    assert isinstance(second, Route)
    assert (second.rule, second.publish) == ("dns", False)
    assert second.components == {"dns": ComponentStatus.partial_outage}
    other = rules.route({"alertname": "DNSDown", "severity": "page"})
    assert isinstance(other, Route)
    assert other.components == {"dns": ComponentStatus.degraded_performance}
    fixed = rules.route({"alertname": "Mail", "severity": "warning", "also": "dns"})
    assert isinstance(fixed, Route)
    assert fixed.components == {
        "email": ComponentStatus.major_outage,
        "dns": ComponentStatus.major_outage,
    }
    none = rules.route({"alertname": "Disk"})
    assert isinstance(none, Ignored)
    assert "no intake rule matches" in none.reason and "alertname='Disk'" in none.reason


@pytest.mark.parametrize(
    ("document", "field", "complaint"),
    [
        ("[[rules]\n", "intake_rules", "not valid TOML"),
        ('[[rules]]\nname = "x"\n', "rules.0", "needs components or component_label"),
        (
            '[[rules]]\nname = "x"\ncomponents = ["dns"]\nmatchers = [\'a=~"("\']\n',
            "rules.0.matchers",
            "not a regular expression",
        ),
        (
            '[[rules]]\nname = "x"\ncomponents = ["dns"]\nstatus = "operational"\n',
            "rules.0.status",
            "not a failing status",
        ),
        ('[[rules]]\nname = "x"\ncomponets = ["dns"]\n', "rules.0.componets", "Extra inputs"),
        (
            '[[rules]]\nname = "x"\ncomponents = ["a"]\n'
            '[[rules]]\nname = "x"\ncomponents = ["b"]\n',
            "intake_rules",
            "x repeats",
        ),
        ('default_status = "under_maintenance"\n', "default_status", "not a failing status"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_field(
    tmp_path: Path, document: str, field: str, complaint: str
) -> None:
    path = tmp_path / "intake.toml"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        intake_rules.load(path)
    assert caught.value.field == field
    assert str(path) in caught.value.message
    assert complaint in caught.value.message


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="cannot read"):
        intake_rules.load(tmp_path / "missing.toml")


def test_the_documented_rules_file_is_valid() -> None:
    text = DOCS.read_text(encoding="utf-8")
    document = text.split("```toml\n", 1)[1].split("```", 1)[0]
    rules = parse(document, source="docs/intake.md")
    assert [r.name for r in rules.rules] == ["dns", "mail-queue", "by-component-label"]
    route = rules.route({"alertname": "DNSTimeouts", "env": "prod", "severity": "critical"})
    assert isinstance(route, Route) and route.publish


def test_events_read_into_the_common_shape() -> None:
    event = Event.model_validate(
        {
            "id": "probe-1",
            "summary": "down",
            "components": {"dns": None, "email": "major_outage"},
            "started_at": "2026-11-23T10:00:00+01:00",
        }
    )
    incoming = from_event(event)
    assert incoming.fingerprint == incoming.group_key == "probe-1"
    assert incoming.components == {"dns": None, "email": ComponentStatus.major_outage}
    assert incoming.starts_at == dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    assert incoming.annotations == {"summary": "down"}
    with pytest.raises(ValidationError):
        Event.model_validate({"id": "x", "started_at": "2026-11-23T10:00:00"})
    with pytest.raises(ValidationError):
        Event.model_validate({"id": "x", "status": "acknowledged"})


# The Alertmanager parser over generated groups ------------------------------

_label_values = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
_labels = st.dictionaries(_names, _label_values, min_size=1, max_size=6)
_times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),
    max_value=dt.datetime(2100, 1, 1),
    timezones=st.sampled_from(
        [
            dt.UTC,
            dt.timezone(dt.timedelta(hours=-7)),
            dt.timezone(dt.timedelta(hours=5, minutes=30)),
        ]
    ),
)


def _go(value: dt.datetime, extra_digits: str) -> str:
    """Go's RFC 3339 with up to nine fractional digits and its offset (``Z`` for UTC)."""
    offset = value.strftime("%z")
    zone = "Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}"
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}{extra_digits}{zone}"


@st.composite
def _alerts(draw: st.DrawFn) -> dict[str, Any]:
    labels = draw(_labels)
    status = draw(st.sampled_from(["firing", "resolved"]))
    starts = draw(_times)
    ends = draw(st.none() | _times)
    alert: dict[str, Any] = {
        "status": status,
        "labels": labels,
        "annotations": draw(st.dictionaries(_names, _label_values, max_size=3)),
        "startsAt": _go(starts, draw(st.from_regex(r"[0-9]{0,3}", fullmatch=True))),
        "endsAt": "0001-01-01T00:00:00Z" if ends is None else _go(ends, ""),
        "generatorURL": "http://prometheus:9090/graph",
        "_starts": starts,
        "_ends": ends,
    }
    if draw(st.booleans()):
        alert["fingerprint"] = draw(st.from_regex(r"[0-9a-f]{16}", fullmatch=True))
    return alert


@settings(max_examples=150, deadline=None)
@given(alerts=st.lists(_alerts(), min_size=1, max_size=8), group=_label_values)
def test_alertmanager_groups_parse_into_one_alert_each(
    alerts: list[dict[str, Any]], group: str
) -> None:
    sent = [{k: v for k, v in a.items() if not k.startswith("_")} for a in alerts]
    body = {
        "receiver": "amends",
        "status": "firing" if any(a["status"] == "firing" for a in sent) else "resolved",
        "alerts": sent,
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "someFutureField": {"ignored": True},
    }
    parsed = from_alertmanager(AlertmanagerPayload.model_validate_json(json.dumps(body)))
    assert len(parsed) == len(alerts)
    for alert, incoming in zip(alerts, parsed, strict=True):
        assert incoming.group_key == group
        assert incoming.status is AlertStatus(alert["status"])
        assert incoming.labels == alert["labels"]
        assert incoming.fingerprint == alert.get("fingerprint", label_fingerprint(alert["labels"]))
        assert incoming.starts_at == alert["_starts"].astimezone(dt.UTC)
        assert incoming.starts_at is not None and incoming.starts_at.tzinfo is dt.UTC
        if alert["_ends"] is None:
            assert incoming.ends_at is None, "Go's zero time means not known"
        else:
            assert incoming.ends_at == alert["_ends"].astimezone(dt.UTC)


@given(labels=_labels, seed=st.randoms())
def test_the_computed_fingerprint_ignores_label_order(labels: dict[str, str], seed: Any) -> None:
    items = list(labels.items())
    seed.shuffle(items)
    assert label_fingerprint(dict(items)) == label_fingerprint(labels)
    assert re.fullmatch(r"[0-9a-f]{16}", label_fingerprint(labels))


@settings(max_examples=100, deadline=None)
@given(alert=_alerts(), drop=st.sampled_from(["status", "labels", "startsAt"]))
def test_an_alert_missing_a_required_field_is_a_validation_error(
    alert: dict[str, Any], drop: str
) -> None:
    sent = {k: v for k, v in alert.items() if not k.startswith("_") and k != drop}
    body = {"version": "4", "groupKey": "g", "status": "firing", "alerts": [sent]}
    with pytest.raises(ValidationError) as caught:
        AlertmanagerPayload.model_validate_json(json.dumps(body))
    assert caught.value.errors()[0]["loc"] == ("alerts", 0, drop)


@given(
    labels=_labels,
    component=_label_values,
    severity=st.sampled_from(["critical", "warning", "error", "info", ""]),
)
def test_the_built_in_rule_maps_any_component_label(
    labels: dict[str, str], component: str, severity: str
) -> None:
    rules = RuleSet()
    route = rules.route(labels | {"component": component, "severity": severity})
    assert isinstance(route, Route)
    expected = {
        "critical": ComponentStatus.major_outage,
        "error": ComponentStatus.partial_outage,
        "warning": ComponentStatus.degraded_performance,
    }.get(severity, ComponentStatus.partial_outage)
    assert route.components == {component: expected}
    assert route.severity == severity
