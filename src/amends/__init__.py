"""amends: handle an outage the way customers deserve.

Alert every affected customer early and often, apologise properly, explain,
reassure about their data, and pay them back.
"""

__version__ = "0.1.0"
