"""The vocabularies of incident facts, free of any database import.

The auditor and the composer judge and write messages against these; the
facts tables store them. Kept apart so checking a draft by hand needs no
database.
"""

from __future__ import annotations

import enum


class CauseOwner(enum.StrEnum):
    """Who owned the root cause. It decides whether naming a third party is
    blame-shifting (internal) or a fact to give after owning it (upstream, attack)."""

    internal = "internal"
    upstream = "upstream"
    attack = "attack"


class Exposure(enum.StrEnum):
    """The data-exposure assessment. Only ``none`` with a named sign-off allows
    the reassurance "no data was compromised"; ``confirmed`` requires a breach
    notice (domain-research §4.3, rule N7)."""

    none = "none"
    under_investigation = "under_investigation"
    confirmed = "confirmed"


class DataKind(enum.StrEnum):
    """Kinds of exposed data; each has its own "what you must do" steps."""

    passwords = "passwords"
    payment_cards = "payment_cards"
    names_addresses = "names_addresses"
    email_contents = "email_contents"
    api_keys = "api_keys"
    contact_details = "contact_details"
    national_ids = "national_ids"
