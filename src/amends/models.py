"""Every table, imported in one place so metadata is complete for migrations."""

from amends.apikeys.models import ApiKey
from amends.availability.models import OutageWindow
from amends.calls.models import AccountManager, CallAssignment
from amends.catalog.models import (
    Component,
    ComponentDependency,
    Customer,
    Site,
    SiteComponent,
    Subscriber,
    SubscriberComponent,
)
from amends.credits.models import Credit, CreditEvent, CreditPolicy, RedemptionLink
from amends.db import Base
from amends.delivery.models import Delivery, Notice
from amends.facts.models import AuditOverride, IncidentFacts
from amends.incidents.models import (
    ComponentStatusChange,
    HoldingUpdate,
    Incident,
    IncidentCadence,
    IncidentComponent,
    IncidentUpdate,
)
from amends.preferences.models import InstanceKey
from amends.statuspage.models import Postmortem

metadata = Base.metadata

__all__ = [
    "AccountManager",
    "ApiKey",
    "AuditOverride",
    "CallAssignment",
    "Component",
    "ComponentDependency",
    "ComponentStatusChange",
    "Credit",
    "CreditEvent",
    "CreditPolicy",
    "Customer",
    "Delivery",
    "HoldingUpdate",
    "Incident",
    "IncidentCadence",
    "IncidentComponent",
    "IncidentFacts",
    "IncidentUpdate",
    "InstanceKey",
    "Notice",
    "OutageWindow",
    "Postmortem",
    "RedemptionLink",
    "Site",
    "SiteComponent",
    "Subscriber",
    "SubscriberComponent",
    "metadata",
]
