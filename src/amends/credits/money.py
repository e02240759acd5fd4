"""Showing an amount: integer minor units → the customer's locale, via Babel. Never a float."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision


def major(minor: int, currency: str) -> Decimal:
    """Minor units as an exact decimal amount (1999 EUR cents → Decimal('19.99'))."""
    return Decimal(minor).scaleb(-get_currency_precision(currency))


def money(minor: int, currency: str, locale: str) -> str:
    """``€14,703.30`` in English, ``14.703,30 €`` in Spanish."""
    return format_currency(major(minor, currency), currency, locale=locale)
