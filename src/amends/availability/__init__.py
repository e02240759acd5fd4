"""Availability: uptime computed from real outage history, quoted truthfully."""
