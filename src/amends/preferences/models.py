"""The installation's signing key, kept in the database so every process that
shares the database (the API, ``amends worker`` on other machines) signs and
checks the same unsubscribe links."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime, utcnow


class InstanceKey(Base):
    __tablename__ = "instance_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
