"""Messages: what amends says to customers (notices, the apology) and the auditor that checks it."""
