"""Incident facts: what failed, why, who owned the cause, and what data was exposed."""
