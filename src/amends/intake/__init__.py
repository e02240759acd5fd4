"""Intake from monitoring: alerts become draft incidents the operator publishes."""
