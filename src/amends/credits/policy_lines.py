"""Which line of a TOML policy a validation error is about.

``tomllib`` says where a *syntax* error is, but a document that parses and
then fails validation (``percent = 2000``, an unknown key) only yields a
field path such as ``("tiers", 1, "percent")``. Someone pasting a policy
into the console needs the line, so this reads the document's structure —
table headers, ``[[arrays]]`` and ``key = value`` lines, skipping comments,
strings and values spanning lines — and finds the line that sets the path,
or failing that the nearest enclosing one (the ``[[tiers]]`` header for an
error in the second tier as a whole, the ``states = [...]`` line for a bad
item in it). A field that is missing from the document has no line.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _keys(text: str) -> tuple[list[str], str] | None:
    """A dotted key at the start of ``text`` (bare or quoted parts) and what follows."""
    parts: list[str] = []
    rest = text.lstrip()
    while True:
        if rest[:1] in ('"', "'"):
            end = rest.find(rest[0], 1)
            if end < 0:
                return None
            parts.append(rest[1:end])
            rest = rest[end + 1 :].lstrip()
        else:
            bare = _BARE.match(rest)
            if not bare:
                return None
            parts.append(bare.group())
            rest = rest[bare.end() :].lstrip()
        if rest[:1] != ".":
            return parts, rest
        rest = rest[1:].lstrip()


def _value_depth(value: str, depth: int, in_string: str) -> tuple[int, str]:
    """Bracket depth and open multi-line string after scanning ``value``."""
    i = 0
    while i < len(value):
        if in_string:
            if value.startswith(in_string, i):
                i += len(in_string)
                in_string = ""
                continue
            i += 2 if value[i] == "\\" and in_string.startswith('"') else 1
            continue
        char = value[i]
        if char == "#":
            break
        if value.startswith('"""', i) or value.startswith("'''", i):
            in_string = value[i : i + 3]
            i += 3
            continue
        if char in "\"'":
            in_string = char
            i += 1
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        i += 1
    if in_string in ('"', "'"):  # a one-line string cannot run on
        in_string = ""
    return depth, in_string


def paths(document: str) -> Iterator[tuple[tuple[str | int, ...], int]]:
    """Each table header and key in the document: (its full path, its 1-based line)."""
    table: tuple[str | int, ...] = ()
    seen: defaultdict[tuple[str, ...], int] = defaultdict(lambda: -1)
    depth, in_string = 0, ""
    for number, line in enumerate(document.splitlines(), start=1):
        if depth > 0 or in_string:
            depth, in_string = _value_depth(line, depth, in_string)
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[["):
            found = _keys(stripped[2:])
            if found:
                name = tuple(found[0])
                seen[name] += 1
                table = (*name, seen[name])
                yield table, number
            continue
        if stripped.startswith("["):
            found = _keys(stripped[1:])
            if found:
                table = tuple(found[0])
                yield table, number
            continue
        found = _keys(stripped)
        if found is None or not found[1].startswith("="):
            continue
        yield (*table, *found[0]), number
        depth, in_string = _value_depth(found[1][1:], 0, "")


def line_of(document: str, loc: Sequence[str | int]) -> int | None:
    """The line setting ``loc``, or the one setting its nearest enclosing path."""
    wanted = tuple(loc)
    best: tuple[int, int] | None = None  # (matched length, line)
    for path, number in paths(document):
        if wanted[: len(path)] == path and (best is None or len(path) > best[0]):
            best = (len(path), number)
    return best[1] if best else None
