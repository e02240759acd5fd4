"""The operator's intake rules: which alerts open drafts on which components.

A TOML file (``intake_rules_file`` in the settings) read when amends starts::

    severity_label = "severity"          # the label that carries the severity
    default_status = "partial_outage"    # a severity the table below does not name

    [status_by_severity]                 # severity → component status
    critical = "major_outage"
    warning = "degraded_performance"

    [[rules]]                            # first match wins, in file order
    name = "dns"
    matchers = ['alertname=~"DNS.*"', 'env="prod"']
    components = ["dns"]                 # and/or component_label = "component"
    publish = ["critical"]               # these severities publish the draft at once
    title = "Sites and e-mail are unreachable"   # what customers read when it does
    resolve = false                      # true: resolve the incident when all alerts resolve

Matchers use Alertmanager's own syntax (``=``, ``!=``, ``=~``, ``!~``;
regular expressions match the whole value; a missing label is the empty
string), so a route and a rule read alike. With no file, one rule applies:
an alert whose ``component`` label names a catalog component opens a draft
on it. Nothing here touches the database: the service checks the keys.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from amends.errors import ValidationFailed
from amends.incidents.models import ComponentStatus

#: What an alert may say about a component: it is not serving its users well.
ALERT_STATUSES = frozenset(
    {
        ComponentStatus.degraded_performance,
        ComponentStatus.partial_outage,
        ComponentStatus.major_outage,
    }
)

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    """``name op value``, as Alertmanager writes it."""

    name: str
    op: str
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        found = labels.get(self.name, "")
        if self.op == "=":
            return found == self.value
        if self.op == "!=":
            return found != self.value
        hit = re.fullmatch(self.value, found) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value, ensure_ascii=False)}"


def parse_matcher(text: str) -> Matcher:
    """``env="prod"``, ``job=~"api|web"``, ``team!=ops`` → a :class:`Matcher`.

    Quoted values take JSON's escapes (``\\"``, ``\\\\``), like Alertmanager's.
    """
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f'{text!r} is not a matcher (name="value", !=, =~ or !~)')
    name, op, raw = found.groups()
    value = raw
    if raw.startswith('"'):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f"{text!r}: the quoted value is not closed or escaped") from None
        if not isinstance(value, str):
            raise ValueError(f"{text!r}: the value must be a string")
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: not a regular expression ({exc})") from None
    return Matcher(name, op, value)


def _alert_status(value: ComponentStatus) -> ComponentStatus:
    if value not in ALERT_STATUSES:
        raise ValueError(f"{value} is not a failing status an alert can set")
    return value


_RESOLVED = "The issue is resolved and the service is working normally again."

_DEFAULT_STATUSES = {
    "critical": ComponentStatus.major_outage,
    "error": ComponentStatus.partial_outage,
    "warning": ComponentStatus.degraded_performance,
}


class Rule(BaseModel):
    """Alerts matching every matcher map to these components."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    matchers: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list, description="Catalog keys.")
    component_label: str | None = Field(
        default=None, description="A label whose value is a catalog key."
    )
    status: ComponentStatus | None = Field(default=None, description="Fixed, whatever severity.")
    status_by_severity: dict[str, ComponentStatus] = Field(default_factory=dict)
    publish: list[str] = Field(default_factory=list, description="Severities published at once.")
    resolve: bool = False
    resolve_message: str = Field(default=_RESOLVED, min_length=1)
    title: str | None = Field(default=None, min_length=1, max_length=300)

    @field_validator("matchers")
    @classmethod
    def _matchers_parse(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_matcher(text)
        return value

    @field_validator("status")
    @classmethod
    def _status_fails(cls, value: ComponentStatus | None) -> ComponentStatus | None:
        return None if value is None else _alert_status(value)

    @field_validator("status_by_severity")
    @classmethod
    def _statuses_fail(cls, value: dict[str, ComponentStatus]) -> dict[str, ComponentStatus]:
        return {k: _alert_status(v) for k, v in value.items()}

    @model_validator(mode="after")
    def _names_components(self) -> Rule:
        if not self.components and not self.component_label:
            raise ValueError(f"rule {self.name!r} needs components or component_label")
        return self

    def parsed(self) -> list[Matcher]:
        return [parse_matcher(text) for text in self.matchers]


@dataclass(frozen=True)
class Route:
    """Where one alert goes: the rule that took it and what it asks for."""

    rule: str
    components: dict[str, ComponentStatus]
    severity: str
    publish: bool
    resolve: bool
    title: str | None


@dataclass(frozen=True)
class Ignored:
    """Why an alert opens nothing (reported back to the sender, never silent)."""

    reason: str


class RuleSet(BaseModel):
    """The whole file, validated; :meth:`route` is the only thing the service asks."""

    model_config = ConfigDict(extra="forbid")

    severity_label: str = "severity"
    default_status: ComponentStatus = ComponentStatus.partial_outage
    status_by_severity: dict[str, ComponentStatus] = Field(
        default_factory=lambda: dict(_DEFAULT_STATUSES)
    )
    publish: list[str] = Field(
        default_factory=list,
        description="Severities that publish events naming their components themselves.",
    )
    rules: list[Rule] = Field(
        default_factory=lambda: [Rule(name="component-label", component_label="component")]
    )

    @field_validator("default_status")
    @classmethod
    def _default_fails(cls, value: ComponentStatus) -> ComponentStatus:
        return _alert_status(value)

    @field_validator("status_by_severity")
    @classmethod
    def _statuses_fail(cls, value: dict[str, ComponentStatus]) -> dict[str, ComponentStatus]:
        return {k: _alert_status(v) for k, v in value.items()}

    @model_validator(mode="after")
    def _names_unique(self) -> RuleSet:
        names = [rule.name for rule in self.rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule names must be unique; {', '.join(twice)} repeats")
        return self

    def status_for(self, severity: str, rule: Rule | None = None) -> ComponentStatus:
        if rule is not None and rule.status is not None:
            return rule.status
        if rule is not None and severity in rule.status_by_severity:
            return rule.status_by_severity[severity]
        return self.status_by_severity.get(severity, self.default_status)

    def route(self, labels: dict[str, str]) -> Route | Ignored:
        """The first rule whose matchers all hold, or why none applies."""
        severity = labels.get(self.severity_label, "")
        for rule in self.rules:
            if not all(m.matches(labels) for m in rule.parsed()):
                continue
            keys = list(rule.components)
            if rule.component_label:
                key = labels.get(rule.component_label, "")
                if not key and not keys:
                    return Ignored(
                        f"rule {rule.name!r} takes the component from label "
                        f"{rule.component_label!r}, which this alert does not carry"
                    )
                if key:
                    keys.append(key)
            status = self.status_for(severity, rule)
            return Route(
                rule=rule.name,
                components=dict.fromkeys(keys, status),
                severity=severity,
                publish=severity in rule.publish,
                resolve=rule.resolve,
                title=rule.title,
            )
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(labels.items())) or "no labels"
        return Ignored(f"no intake rule matches this alert ({shown})")

    def resolve_message(self, rule_name: str) -> str:
        """What customers read when a rule resolves the incident by itself."""
        rule = next((r for r in self.rules if r.name == rule_name), None)
        return rule.resolve_message if rule is not None else _RESOLVED

    def explicit(self, components: dict[str, ComponentStatus | None], severity: str) -> Route:
        """An event that names its components itself (the generic webhook)."""
        return Route(
            rule="explicit",
            components={k: s or self.status_for(severity) for k, s in components.items()},
            severity=severity,
            publish=severity in self.publish,
            resolve=False,
            title=None,
        )


def parse(document: str, *, source: str = "intake rules") -> RuleSet:
    """Read and validate the TOML; an error names the file and the field."""
    try:
        data = tomllib.loads(document)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed(f"{source}: not valid TOML: {exc}", field="intake_rules") from None
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "intake_rules"
        message = first["msg"].removeprefix("Value error, ")
        raise ValidationFailed(f"{source}: {where}: {message}", field=where) from None


def load(path: Path | None) -> RuleSet:
    """The rules in ``path``, or the built-in ones when there is no file."""
    if path is None:
        return RuleSet()
    try:
        document = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed(
            f"{path}: cannot read ({exc.strerror})", field="intake_rules_file"
        ) from None
    return parse(document, source=str(path))
