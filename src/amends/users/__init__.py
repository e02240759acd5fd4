"""The people who run an outage's communications from the console, and what they did."""
