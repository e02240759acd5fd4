"""The after-action report: how an incident was communicated, and how it landed."""
