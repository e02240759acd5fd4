"""Downtime arithmetic on windows: weighted merge, exclusion, clipping.

Pure functions over a handful of windows (a component's history), kept apart
from the database so the property tests can hammer them. Every window is
half-open ``[start, end)`` in UTC; weights are ``Decimal`` (a partial outage
counts half a minute per minute by default), and overlapping windows count
once, at the worst weight covering each instant — never summed, which is
the common bug the research warns about (domain-research §2.2 step 3).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

MICROSECOND = dt.timedelta(microseconds=1)
ONE = Decimal(1)
ZERO = Decimal(0)


@dataclass(frozen=True, order=True)
class Span:
    """``[start, end)`` during which the service was down at ``weight`` (0–1)."""

    start: dt.datetime
    end: dt.datetime
    weight: Decimal = ONE

    @property
    def micros(self) -> int:
        return (self.end - self.start) // MICROSECOND


def merge(spans: Iterable[Span]) -> list[Span]:
    """The weighted union: at each instant the heaviest covering window counts.

    The result is sorted, non-overlapping, and the same whatever the input's
    order (a property test checks that). Adjacent pieces of equal weight are
    joined; zero-weight and empty windows disappear. A sweep over the window
    edges keeps the weights active at each point.
    """
    events: dict[dt.datetime, list[tuple[int, Decimal]]] = {}
    for s in spans:
        if s.end > s.start and s.weight > ZERO:
            events.setdefault(s.start, []).append((1, s.weight))
            events.setdefault(s.end, []).append((-1, s.weight))
    active: Counter[Decimal] = Counter()
    out: list[Span] = []
    points = sorted(events)
    for a, b in itertools.pairwise(points):
        for delta, weight in events[a]:
            active[weight] += delta
            if not active[weight]:
                del active[weight]
        if not active:
            continue
        weight = max(active)
        if out and out[-1].end == a and out[-1].weight == weight:
            out[-1] = Span(out[-1].start, b, weight)
        else:
            out.append(Span(a, b, weight))
    return out


def subtract(spans: Iterable[Span], excluded: Iterable[Span]) -> list[Span]:
    """``spans`` with every instant of ``excluded`` cut out (weights of ``excluded`` ignored)."""
    cuts = merge(Span(e.start, e.end, ONE) for e in excluded)
    out: list[Span] = []
    for span in merge(spans):
        pieces = [span]
        for cut in cuts:
            next_pieces: list[Span] = []
            for piece in pieces:
                if cut.end <= piece.start or cut.start >= piece.end:
                    next_pieces.append(piece)
                    continue
                if cut.start > piece.start:
                    next_pieces.append(Span(piece.start, cut.start, piece.weight))
                if cut.end < piece.end:
                    next_pieces.append(Span(cut.end, piece.end, piece.weight))
            pieces = next_pieces
        out.extend(pieces)
    return out


def clip(spans: Iterable[Span], start: dt.datetime, end: dt.datetime) -> list[Span]:
    """The parts of ``spans`` inside ``[start, end)``."""
    out = []
    for s in spans:
        a, b = max(s.start, start), min(s.end, end)
        if b > a:
            out.append(Span(a, b, s.weight))
    return out


def weighted_micros(spans: Iterable[Span]) -> Decimal:
    """Downtime in microseconds, each window counted at its weight. Merge first."""
    return sum((Decimal(s.micros) * s.weight for s in spans), ZERO)


def percent_up(down_micros: Decimal, total_micros: int) -> Decimal | None:
    """``100 × (1 − down ÷ total)``, exactly, clamped to 0–100; None when nothing was measured."""
    if total_micros <= 0:
        return None
    value = Decimal(100) * (ONE - down_micros / Decimal(total_micros))
    return min(Decimal(100), max(ZERO, value))
