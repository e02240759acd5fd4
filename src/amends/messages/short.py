"""The short forms: an SMS of at most two segments, and a voice script.

Both point to the full message (the e-mail, or ``details_url``) instead of
repeating it. An SMS is tried from the richest wording to the plainest (sites
named, then counted, then left out) and cut only as a last resort, so it
always fits two segments in GSM-7 or UCS-2 alike.
"""

from __future__ import annotations

import re

from amends.facts.kinds import Exposure
from amends.messages import blocks as b
from amends.messages import segments
from amends.messages.context import Context
from amends.messages.kinds import NoticeKind

SMS_MAX_SEGMENTS = 2
_SPACES = re.compile(r"[\u00a0\u202f\u2009]")


def plain_spaces(text: str) -> str:
    """Babel's no-break and narrow spaces force UCS-2 in an SMS; a space does not."""
    return _SPACES.sub(" ", text)


def _sites(i: Context, shown: int) -> str:
    s, n = i.s, len(i.sites)
    if shown and n:
        return s.sites(i.sites, shown=shown)
    return s.n_("your %(num)d site", "your %(num)d sites", max(n, 1))


def _headline(i: Context, kind: NoticeKind, shown: int, extras: bool = True) -> str:
    s, f = i.s, i.facts
    what, company = i.t(f.what_failed), f.company
    if kind is NoticeKind.first_notice:
        return s._(
            "%(company)s: %(what)s has not been working since %(time)s; this affects "
            "%(sites)s. We are working on it.",
            company=company,
            what=what,
            time=s.when(f.started_at),
            sites=_sites(i, shown),
        )
    if kind is NoticeKind.update:
        return s._(
            "%(company)s: %(what)s is still not working as it should; we are working on it.",
            company=company,
            what=what,
        )
    if kind is NoticeKind.resolution:
        end = f.resolved_at or f.started_at
        return s._(
            "%(company)s: %(what)s is working again since %(time)s. We are sorry.",
            company=company,
            what=what,
            time=s.when(end),
        )
    if kind is NoticeKind.apology:
        text = s._(
            "%(company)s: we are sorry. Our outage hit %(sites)s, and it was our fault.",
            company=company,
            sites=_sites(i, shown),
        )
        if i.credit is not None and extras:
            text += " " + s._(
                "Your credit: %(amount)s.",
                amount=s.money(i.credit.amount_minor, i.credit.currency),
            )
        return text
    if kind is NoticeKind.breach_notice:
        kinds = s.items([b.data_kind(s, k) for k in f.exposed_data])
        return s._(
            "%(company)s: some of your data was exposed (%(kinds)s).",
            company=company,
            kinds=kinds,
        )
    if kind is NoticeKind.maintenance:
        end = f.ends_at or f.resolved_at or f.started_at
        return s._(
            "%(company)s: planned maintenance of %(what)s from %(start)s to %(end)s.",
            company=company,
            what=what,
            start=s.when(f.started_at),
            end=s.when(end),
        )
    if kind is NoticeKind.correction:
        return s._(
            "%(company)s: a correction to our earlier message about %(what)s.",
            company=company,
            what=what,
        )
    return s._(
        "%(company)s: our full report on the outage of %(day)s is published.",
        company=company,
        day=s.day(f.started_at),
    )


def _redeem_url(i: Context, kind: NoticeKind) -> str | None:
    """A credit that waits for the customer's click (never in a breach notice)."""
    if kind is NoticeKind.apology and i.credit is not None:
        return i.credit.redeem_url
    return None


def urgent_step(i: Context) -> str:
    """When data was exposed, every message carries the first thing to do (rule S5)."""
    if i.facts.exposure is not Exposure.confirmed:
        return ""
    return b.steps(i.s, i.facts.exposed_data[0], i.facts)[0]


def sms_text(i: Context, kind: NoticeKind) -> str:
    """The SMS: the richest wording that fits two segments, with the link to the rest."""
    url = i.facts.details_url or i.facts.status_url
    labelled = plain_spaces(" " + i.s._("Details: %(url)s", url=url)) if url else ""
    bare = " " + url if url else ""
    step = plain_spaces(urgent_step(i))
    tries = [(3, True, labelled), (1, True, labelled), (0, True, labelled), (0, True, bare)]
    tries.append((0, False, bare))
    redeem = _redeem_url(i, kind)
    if redeem:  # the customer's own link first; the public page only while it fits
        own = plain_spaces(" " + i.s._("Redeem your credit: %(url)s", url=redeem))
        tries = [(n, True, labelled + own) for n in (3, 1, 0)]
        tries += [(0, True, own), (0, True, " " + redeem), (0, False, " " + redeem)]
    link = tries[-1][2]
    for shown, extras, link in tries:
        text = plain_spaces(" ".join(p for p in (_headline(i, kind, shown, extras), step) if p))
        if segments.count_segments(text + link) <= SMS_MAX_SEGMENTS:
            return text + link
    # Last resort (very long names): cut the headline at a word, then the step;
    # never the link.
    head = plain_spaces(_headline(i, kind, 0, False)).split(" ")
    todo = step.split(" ") if step else []

    def cut() -> str:
        return " ".join(head) + "…" + (" " + " ".join(todo) if todo else "") + link

    while len(head) > 1 and segments.count_segments(cut()) > SMS_MAX_SEGMENTS:
        head.pop()
    # One word too long by itself (a long company name): shorten it, not the step.
    while len(head[0]) > 1 and segments.count_segments(cut()) > SMS_MAX_SEGMENTS:
        head[0] = head[0][:-1]
    while len(todo) > 1 and segments.count_segments(cut()) > SMS_MAX_SEGMENTS:
        todo.pop()
    return cut()


def voice_script(i: Context, kind: NoticeKind) -> str:
    """A few short sentences for text-to-speech: no links, no lists of domains."""
    s = i.s
    hello = s._(
        "Hello %(name)s. This is %(company)s.", name=i.customer.name, company=i.facts.company
    )
    news = _headline(i, kind, 0).split(": ", 1)[-1]
    parts = [hello, news[:1].upper() + news[1:], urgent_step(i)]
    if _redeem_url(i, kind):
        parts.append(s._("To redeem your credit, use the link in our e-mail."))
    if kind is NoticeKind.apology:
        parts.append(s._("Thank you for the chance to win back your trust."))
    parts.append(s._("We have sent you the details by e-mail."))
    return plain_spaces(" ".join(p for p in parts if p))
