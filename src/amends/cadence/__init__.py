"""Early and often, from the ledger: what each incident owes, the holding update, the record."""
