"""Tables of the catalog.

A *component* is something that can fail (DNS, web hosting, e-mail). A
*customer* pays for *sites*; each site uses some components. *Subscribers*
are people or systems who follow components without being customers.
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from amends.db import Base, UTCDateTime, utcnow

CHANNELS = ("email", "sms", "voice")


class SiteState(enum.StrEnum):
    active = "active"
    published = "published"
    suspended = "suspended"
    cancelled = "cancelled"


class SubscriberKind(enum.StrEnum):
    email = "email"
    sms = "sms"
    webhook = "webhook"
    chat = "chat"  # an Apprise URL: Slack, Teams, Discord, …


class Component(Base):
    __tablename__ = "components"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    group_name: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    depends_on: Mapped[list[Component]] = relationship(
        secondary="component_dependencies",
        primaryjoin="Component.id == ComponentDependency.component_id",
        secondaryjoin="Component.id == ComponentDependency.depends_on_id",
        order_by="Component.key",
        lazy="selectin",
    )


class ComponentDependency(Base):
    """``component`` fails when ``depends_on`` fails (web hosting needs DNS)."""

    __tablename__ = "component_dependencies"
    __table_args__ = (CheckConstraint("component_id <> depends_on_id", name="not_self"),)

    component_id: Mapped[int] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), primary_key=True
    )
    depends_on_id: Mapped[int] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), primary_key=True
    )


class Customer(Base):
    """Someone who pays the provider; opt-outs come from the customer and are
    never cleared by an import."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    tier: Mapped[str] = mapped_column(String(32), default="standard")
    notify_email: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    notify_voice: Mapped[bool] = mapped_column(Boolean, default=False)
    opt_out_email: Mapped[bool] = mapped_column(Boolean, default=False)
    opt_out_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    opt_out_voice: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    sites: Mapped[list[Site]] = relationship(back_populates="customer", lazy="raise")

    def channels(self) -> list[str]:
        """Channels this customer wants notices on."""
        return [c for c in CHANNELS if getattr(self, f"notify_{c}")]

    def opted_out(self) -> list[str]:
        return [c for c in CHANNELS if getattr(self, f"opt_out_{c}")]


class Site(Base):
    """A paid service of a customer: a website, a mailbox domain, a shop.

    ``service_started_at``/``service_ended_at`` bound when the site was live;
    impact uses them so a site cancelled before an outage is not counted and
    one created during it is.
    """

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint("monthly_price_minor >= 0", name="price_not_negative"),
        Index("ix_sites_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    domain: Mapped[str] = mapped_column(String(253))
    plan: Mapped[str] = mapped_column(String(64))
    monthly_price_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[SiteState] = mapped_column(
        Enum(SiteState, native_enum=False, length=16, validate_strings=True)
    )
    service_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    service_ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="sites", lazy="raise")
    components: Mapped[list[Component]] = relationship(
        secondary="site_components", order_by="Component.key", lazy="selectin"
    )


class SiteComponent(Base):
    __tablename__ = "site_components"
    __table_args__ = (Index("ix_site_components_component_site", "component_id", "site_id"),)

    site_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("sites.id", ondelete="CASCADE"),
        primary_key=True,
    )
    component_id: Mapped[int] = mapped_column(
        ForeignKey("components.id", ondelete="RESTRICT"), primary_key=True
    )


class Subscriber(Base):
    """Someone following the status who is not (necessarily) a customer."""

    __tablename__ = "subscribers"
    __table_args__ = (UniqueConstraint("kind", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[SubscriberKind] = mapped_column(
        Enum(SubscriberKind, native_enum=False, length=16, validate_strings=True)
    )
    address: Mapped[str] = mapped_column(String(2048))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Webhook and chat endpoints that keep failing are switched off
    # (delivery.endpoints): consecutive failures, and when it was disabled.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    components: Mapped[list[Component]] = relationship(
        secondary="subscriber_components", order_by="Component.key", lazy="selectin"
    )


class SubscriberComponent(Base):
    """Empty set for a subscriber means: follows every component."""

    __tablename__ = "subscriber_components"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[int] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), primary_key=True
    )
