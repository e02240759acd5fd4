"""Tables of the credit ledger.

One credit per (incident, site), unique, so issuing twice changes nothing.
Amounts are integer minor units with their ISO currency. A credit is created
``issued`` (who issued it and under which policy version is on the row);
every later change of state is a row in ``credit_events``. A customer gets
one redemption link per incident, stored only as the SHA-256 of its token
(the token itself is derived with the installation's key, see ``redemption``).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class CreditState(enum.StrEnum):
    issued = "issued"  # computed and promised; not usable before ``available_at``
    available = "available"  # usable: waiting for the customer's click
    redeemed = "redeemed"  # claimed (or auto-applied): billing should apply it
    applied = "applied"  # billing acknowledged it on an invoice
    expired = "expired"
    void = "void"


def _state() -> Enum:
    return Enum(CreditState, native_enum=False, length=16, validate_strings=True)


class CreditPolicy(Base):
    """One version of a declarative policy; the TOML document is kept as given."""

    __tablename__ = "credit_policies"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    document: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Credit(Base):
    __tablename__ = "credits"
    __table_args__ = (
        UniqueConstraint("incident_id", "site_id"),
        Index("ix_credits_customer_incident", "customer_id", "incident_id"),
        Index("ix_credits_state_id", "state", "id"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="RESTRICT"))
    site_id: Mapped[int] = mapped_column(BigId, ForeignKey("sites.id", ondelete="RESTRICT"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="RESTRICT"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("credit_policies.id", ondelete="RESTRICT"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: The credit as a share of the site's monthly fee, in millionths: the audit
    #: of "same formula for everyone" (rule C3) and of the size band (C2).
    fee_ppm: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[CreditState] = mapped_column(_state())
    auto_apply: Mapped[bool] = mapped_column(Boolean)
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    available_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    applied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CreditEvent(Base):
    """A credit changed state: who did it, when, from what to what."""

    __tablename__ = "credit_events"
    __table_args__ = (Index("ix_credit_events_credit_id", "credit_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    credit_id: Mapped[int] = mapped_column(BigId, ForeignKey("credits.id", ondelete="CASCADE"))
    from_state: Mapped[CreditState] = mapped_column(_state())
    to_state: Mapped[CreditState] = mapped_column(_state())
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class RedemptionLink(Base):
    """One link per customer and incident, covering all their credits in it."""

    __tablename__ = "redemption_links"
    __table_args__ = (UniqueConstraint("customer_id", "incident_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    #: The token is HMAC(key, incident|customer|generation): rotating a link that
    #: leaked moves the generation; nothing else does.
    generation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class BillingEndpoint(Base):
    """A URL of the provider's billing system that receives credit events.

    ``secret`` is the Standard Webhooks signing secret (``whsec_…``): shown once
    when the endpoint is added, kept here because every event is signed with it.
    Repeated failures disable the endpoint (``delivery.endpoints``)."""

    __tablename__ = "billing_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)


class CreditWebhookEvent(Base):
    """The outbox: one credit event, written in the transaction that changed the credits.

    An event names its credits instead of copying them: those of ``incident_id``
    with ids in ``first_credit_id..last_credit_id`` (and ``customer_id``, when
    set) whose ``issued_at`` / ``redeemed_at`` is ``at``. Issuance writes one
    event per 1,000 credits, set-based; a redemption writes one event. The
    payload is built when it is sent, from columns that never change after the
    event. ``queued_at`` is set once the delivery ledger owes it to the endpoints.
    """

    __tablename__ = "credit_webhook_events"
    __table_args__ = (Index("ix_credit_webhook_events_queued_at", "queued_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    first_credit_id: Mapped[int] = mapped_column(BigInteger)
    last_credit_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
