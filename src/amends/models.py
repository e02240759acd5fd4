"""Every table, imported in one place so metadata is complete for migrations."""

from amends.apikeys.models import ApiKey
from amends.catalog.models import (
    Component,
    ComponentDependency,
    Customer,
    Site,
    SiteComponent,
    Subscriber,
    SubscriberComponent,
)
from amends.db import Base
from amends.facts.models import AuditOverride, IncidentFacts
from amends.incidents.models import (
    ComponentStatusChange,
    Incident,
    IncidentComponent,
    IncidentUpdate,
)

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "AuditOverride",
    "Component",
    "ComponentDependency",
    "ComponentStatusChange",
    "Customer",
    "Incident",
    "IncidentComponent",
    "IncidentFacts",
    "IncidentUpdate",
    "Site",
    "SiteComponent",
    "Subscriber",
    "SubscriberComponent",
    "metadata",
]
