"""A draft's text: started from the composer, personalised in a sandbox.

An operator edits the texts, so they are templates run in Jinja's sandboxed
environment with nothing in reach but two fields: ``{{ name }}`` (the
customer's name) and ``{{ sites }}`` (their affected sites, "a.com, b.com,
c.com and 4 more" in their language). A text is checked when it is saved —
syntax, unknown fields, attribute access, indexing, calls, assignments,
includes — and refused with an error naming the language and the part, so a
draft that was saved always renders for every customer.

The e-mail body is plain text; its HTML is that text in paragraphs, escaped,
in the same frame as the composer's e-mails.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    Template,
    TemplateError,
    nodes,
    select_autoescape,
)
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import SandboxedEnvironment

from amends.errors import ValidationFailed
from amends.messages import segments
from amends.messages.composer import compose
from amends.messages.drafts.models import LANGUAGES, PARTS, DraftKind
from amends.messages.i18n import Speaker
from amends.messages.inputs import NoticeFacts, Recipient
from amends.messages.kinds import NoticeKind

#: The only names a drafted text may use.
FIELDS = ("name", "sites")
#: Filters a text may use on them (no others exist in the sandbox).
FILTERS = ("upper", "lower", "capitalize", "title", "trim", "default")
#: What a text may not contain: only output and ``if`` are left (no loop and no
#: ``*`` or ``**``, so no text can make a send slow or huge).
FORBIDDEN = (
    nodes.For,
    nodes.Mul,
    nodes.Pow,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Call,
    nodes.Assign,
    nodes.AssignBlock,
    nodes.Macro,
    nodes.CallBlock,
    nodes.Include,
    nodes.Import,
    nodes.FromImport,
    nodes.Extends,
    nodes.Block,
)
PART_NAMES = {
    "subject": "subject",
    "email": "e-mail body",
    "sms": "SMS text",
    "voice": "voice script",
}
COMPOSER_KIND = {DraftKind.postmortem: NoticeKind.postmortem_published}
UNSUBSCRIBE = {"en": "Stop these e-mails", "es": "Dejar de recibir estos avisos"}
_TWO = ("SITE-1.example", "SITE-2.example")  # placeholders: the composer words the plural


class _Sandbox(SandboxedEnvironment):
    """The sandbox with nothing to reach: no attribute is safe, nothing is callable."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return False

    def is_safe_callable(self, obj: Any) -> bool:
        return False


@functools.cache
def sandbox() -> SandboxedEnvironment:
    env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals.clear()
    env.filters = {name: env.filters[name] for name in FILTERS}
    return env


@functools.cache
def _frame() -> Environment:
    return Environment(
        loader=PackageLoader("amends.messages.drafts", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def field_name(lang: str, part: str) -> str:
    return f"{lang}.{part}"


def _refuse(lang: str, part: str, why: str) -> ValidationFailed:
    return ValidationFailed(
        f"the {PART_NAMES.get(part, part)} ({lang}): {why}", field=field_name(lang, part)
    )


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> Template | str:
    """The compiled template, or why it is refused (cached: a send renders the
    same few texts for every customer)."""
    env = sandbox()
    try:
        tree = env.parse(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        return f"{exc.message or exc}" + (f" (line {line})" if line else "")
    for node in tree.find_all(FORBIDDEN):
        return (
            f"{type(node).__name__.lower()} is not allowed; only {{{{ name }}}} and "
            "{{ sites }} may be used (with if and simple filters)"
        )
    for node in tree.find_all(nodes.Filter):
        if node.name not in FILTERS:
            return f"the filter {node.name!r} is not allowed (allowed: {', '.join(FILTERS)})"
    unknown = sorted(find_undeclared_variables(tree) - set(FIELDS))
    if unknown:
        listed = ", ".join("{{ " + name + " }}" for name in unknown)
        return f"unknown field {listed}; use {{{{ name }}}} or {{{{ sites }}}}"
    try:
        return env.from_string(tree)
    except TemplateError as exc:
        return str(exc)


def check(lang: str, part: str, source: str) -> Template:
    """The text as a template, or :class:`ValidationFailed` naming the field."""
    found = _compiled(source)
    if isinstance(found, str):
        raise _refuse(lang, part, found)
    return found


def check_texts(texts: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """Every language and part present and valid; returns the texts, tidied."""
    clean: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        given = texts.get(lang) or {}
        clean[lang] = {}
        for part in PARTS:
            value = str(given.get(part, "")).replace("\r\n", "\n").strip()
            if not value:
                raise _refuse(lang, part, "empty")
            check(lang, part, value)
            clean[lang][part] = value
    return clean


def sites_text(lang: str, domains: Sequence[str]) -> str:
    return Speaker(lang, "UTC").sites(domains) if domains else ""


def fill(lang: str, part: str, source: str, *, name: str, sites: Sequence[str]) -> str:
    """One text for one customer."""
    try:
        return check(lang, part, source).render(name=name, sites=sites_text(lang, sites))
    except TemplateError as exc:  # the checks above leave nothing that fails here
        raise _refuse(lang, part, str(exc)) from None


@dataclass(frozen=True)
class Personal:
    """What one customer receives, on every channel, in one language."""

    lang: str
    subject: str
    text: str
    html: str
    sms: str
    voice: str

    @property
    def sms_encoding(self) -> str:
        return str(segments.encoding_of(self.sms))

    @property
    def sms_segments(self) -> int:
        return segments.count_segments(self.sms)


def personal(
    texts: Mapping[str, Mapping[str, str]],
    lang: str,
    *,
    name: str,
    sites: Sequence[str],
    unsubscribe: str | None = None,
) -> Personal:
    lang = lang if lang in LANGUAGES else "en"
    part = texts[lang]

    def one(key: str) -> str:
        return fill(lang, key, part[key], name=name, sites=sites)

    subject = " ".join(one("subject").split())
    text = one("email").strip() + "\n"
    html = email_html(lang, subject, text, unsubscribe)
    if unsubscribe:
        text += f"\n{UNSUBSCRIBE[lang]}: {unsubscribe}\n"
    return Personal(lang, subject, text, html, " ".join(one("sms").split()), one("voice").strip())


def email_html(lang: str, subject: str, text: str, unsubscribe: str | None = None) -> str:
    """The e-mail body as HTML: blank lines part paragraphs, "- " lines make a list."""
    blocks = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in chunk.splitlines() if line.strip()]
        if lines and all(line.startswith("- ") for line in lines):
            blocks.append({"bullets": [line[2:] for line in lines], "lines": []})
        elif lines:
            blocks.append({"bullets": [], "lines": lines})
    return (
        _frame()
        .get_template("email.html")
        .render(
            lang=lang,
            subject=subject,
            blocks=blocks,
            unsubscribe=unsubscribe,
            unsubscribe_label=UNSUBSCRIBE.get(lang, UNSUBSCRIBE["en"]),
        )
    )


def starter(kind: DraftKind, facts: NoticeFacts, lang: str) -> dict[str, str]:
    """The composer's message of this kind in ``lang``, with ``{{ name }}`` and
    ``{{ sites }}`` where each customer's own go (times in UTC: one text for all)."""
    wanted = COMPOSER_KIND[kind] if kind in COMPOSER_KIND else NoticeKind(kind.value)
    who = Recipient(name="{{ name }}", timezone="UTC")
    forms = {
        channel: compose(wanted, facts, who, lang, channel, sites=_TWO)
        for channel in ("email", "sms", "voice")
    }
    listed = Speaker(lang, "UTC").items(list(_TWO))

    def fields(text: str) -> str:
        return text.replace(listed, "{{ sites }}").replace(_TWO[0], "{{ sites }}")

    return {
        "subject": fields(forms["email"].subject),
        "email": fields(forms["email"].text),
        "sms": fields(forms["sms"].text),
        "voice": fields(forms["voice"].text),
    }
