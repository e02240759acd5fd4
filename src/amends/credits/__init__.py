"""Compensation: credit policies, the credit ledger, one-click redemption, billing hand-off."""
