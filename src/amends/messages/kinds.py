"""The kinds of notice and the forms a channel gives them."""

from __future__ import annotations

import enum


class NoticeKind(enum.StrEnum):
    first_notice = "first_notice"
    update = "update"
    resolution = "resolution"
    apology = "apology"
    breach_notice = "breach_notice"
    maintenance = "maintenance"
    postmortem_published = "postmortem_published"
    correction = "correction"  # we told customers something wrong: the right version


class ChannelForm(enum.StrEnum):
    email = "email"
    sms = "sms"
    voice = "voice"
