"""The operator console: the CLI's and API's incident work, in a browser, for
support and communications staff. Server-rendered Jinja2 with htmx; every
write goes through the same flows and services as the CLI and API."""
