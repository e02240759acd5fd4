"""Incidents and scheduled maintenance: lifecycle, updates, timeline."""
