"""SVG badges (shields.io look) for a component's status and its uptime.

Hand-written on purpose: a badge is ~20 lines of SVG and the one library that
renders them (pybadges) drags in a font-metrics table; widths here come from
an average glyph width, which is close enough for short labels.
"""

from __future__ import annotations

from html import escape

from amends.incidents.models import ComponentStatus

COLOURS: dict[str, str] = {
    ComponentStatus.operational: "#2e7d32",
    ComponentStatus.degraded_performance: "#8a6d00",
    ComponentStatus.partial_outage: "#c0510a",
    ComponentStatus.major_outage: "#b71c1c",
    ComponentStatus.under_maintenance: "#1f5fa8",
}


def _width(text: str) -> int:
    return int(len(text) * 6.6) + 12


def badge(label: str, value: str, colour: str) -> bytes:
    left, right = _width(label), _width(value)
    total = left + right
    label_e, value_e = escape(label), escape(value)
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" \
role="img" aria-label="{label_e}: {value_e}">
<title>{label_e}: {value_e}</title>
<rect width="{left}" height="20" fill="#555"/>
<rect x="{left}" width="{right}" height="20" fill="{escape(colour)}"/>
<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" \
font-size="11">
<text x="{left / 2}" y="14">{label_e}</text>
<text x="{left + right / 2}" y="14">{value_e}</text>
</g>
</svg>
"""
    return svg.encode()


def status_badge(name: str, status: ComponentStatus) -> bytes:
    return badge(name, status.value.replace("_", " "), COLOURS[status])


def uptime_badge(name: str, availability: float, days: int) -> bytes:
    good, fair = availability >= 0.999, availability >= 0.99
    colour = "#2e7d32" if good else "#8a6d00" if fair else "#b71c1c"
    return badge(f"{name} uptime {days}d", f"{availability * 100:.2f}%", colour)
