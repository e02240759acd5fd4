"""Every table, imported in one place so metadata is complete for migrations."""

from amends.apikeys.models import ApiKey
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
from amends.db import Base
from amends.incidents.models import (
    ComponentStatusChange,
    Incident,
    IncidentComponent,
    IncidentUpdate,
)

metadata = Base.metadata

__all__ = [
    "AccountManager",
    "ApiKey",
    "CallAssignment",
    "Component",
    "ComponentDependency",
    "ComponentStatusChange",
    "Customer",
    "Incident",
    "IncidentComponent",
    "IncidentUpdate",
    "Site",
    "SiteComponent",
    "Subscriber",
    "SubscriberComponent",
    "metadata",
]
