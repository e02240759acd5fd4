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
from amends.credits.models import (
    BillingEndpoint,
    Credit,
    CreditEvent,
    CreditPolicy,
    CreditWebhookEvent,
    RedemptionLink,
)
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
from amends.intake.models import Alert as IntakeAlert
from amends.intake.models import Draft as IntakeDraft
from amends.messages.drafts.models import DraftVersion, MessageDraft
from amends.preferences.models import InstanceKey
from amends.ratings.models import Rating
from amends.statuspage.models import Postmortem
from amends.users.models import ApprovalRequest, AuditEntry, LoginSession, User

metadata = Base.metadata

__all__ = [
    "AccountManager",
    "ApiKey",
    "ApprovalRequest",
    "AuditEntry",
    "AuditOverride",
    "BillingEndpoint",
    "CallAssignment",
    "Component",
    "ComponentDependency",
    "ComponentStatusChange",
    "Credit",
    "CreditEvent",
    "CreditPolicy",
    "CreditWebhookEvent",
    "Customer",
    "Delivery",
    "DraftVersion",
    "HoldingUpdate",
    "Incident",
    "IncidentCadence",
    "IncidentComponent",
    "IncidentFacts",
    "IncidentUpdate",
    "InstanceKey",
    "IntakeAlert",
    "IntakeDraft",
    "LoginSession",
    "MessageDraft",
    "Notice",
    "OutageWindow",
    "Postmortem",
    "Rating",
    "RedemptionLink",
    "Site",
    "SiteComponent",
    "Subscriber",
    "SubscriberComponent",
    "User",
    "metadata",
]
