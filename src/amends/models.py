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
from amends.incidents.models import (
    ComponentStatusChange,
    Incident,
    IncidentComponent,
    IncidentUpdate,
)
from amends.statuspage.models import Postmortem

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "Component",
    "ComponentDependency",
    "ComponentStatusChange",
    "Customer",
    "Incident",
    "IncidentComponent",
    "IncidentUpdate",
    "Postmortem",
    "Site",
    "SiteComponent",
    "Subscriber",
    "SubscriberComponent",
    "metadata",
]
