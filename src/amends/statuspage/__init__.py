"""The public status page: pages, Statuspage-shaped JSON, feeds, badges, static export.

Everything here is built from components and incidents only; customers,
sites and subscribers never reach a public byte.
"""
