"""The contract between the delivery ledger and the channels.

The dispatcher hands a channel a batch of :class:`Message` (one per ledger row,
already rendered for its recipient) and gets back one :class:`SendResult` per
message, in the same order. A channel never touches the database: the ledger
records what the results say, so "nothing lost, nothing twice" is decided in
one place.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar


class Outcome(enum.StrEnum):
    """What became of one message."""

    SENT = "sent"  # the provider accepted it
    RETRY = "retry"  # a temporary failure: try again later (429, 4xx SMTP, timeouts)
    FAILED = "failed"  # permanent: invalid address, 5xx SMTP, rejected number


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered message for one recipient on one channel.

    ``key`` is deterministic and unique per ledger row; channels use it as the
    e-mail Message-ID or the provider's idempotency key, so a message resent
    after a crash is recognisably the same message.
    """

    delivery_id: int
    key: str
    address: str
    locale: str
    text: str
    name: str = ""
    subject: str = ""
    html: str | None = None
    variant: str = ""  # messages sharing a variant share their template (e-mail builds MIME once)
    unsubscribe_url: str | None = None
    payload: Mapping[str, Any] | None = None  # webhooks: the JSON event
    signing_secret: str | None = None  # webhooks: the endpoint's own whsec_ secret, if it has one


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider's answer for one message."""

    delivery_id: int
    outcome: Outcome
    provider_id: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, when the provider said (Retry-After)


@dataclass(frozen=True, slots=True)
class Limits:
    """What a channel may do, declared on the channel, enforced by the dispatcher."""

    per_second: float | None = None
    per_day: int | None = None
    max_batch: int = 1000
    extra: Mapping[str, Any] = field(default_factory=dict)


class Channel(abc.ABC):
    """A way to reach people: e-mail, SMS, voice, webhook, chat.

    Opened once per worker, used for many batches, closed at the end, so
    connections (SMTP sessions, HTTP pools) are reused.
    """

    name: ClassVar[str]
    limits: Limits = Limits()

    @classmethod
    def from_settings(cls, settings: Any) -> Channel:
        """The channel as configured. Registered channels take the application's
        ``Settings`` as their first argument; override to build otherwise."""
        return cls(settings)  # type: ignore[call-arg]

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect or warm up; the default needs nothing."""

    @abc.abstractmethod
    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        """Send a batch; one result per message, in order. Never raises for one bad message."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default holds none."""


_C = TypeVar("_C", bound=type[Channel])
_registry: dict[str, type[Channel]] = {}


def register(name: str) -> Callable[[_C], _C]:
    """Class decorator: make a channel known by ``name``."""

    def decorate(cls: _C) -> _C:
        cls.name = name
        _registry[name] = cls
        return cls

    return decorate


def channel_class(name: str) -> type[Channel]:
    _load_builtin()
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry))
        raise KeyError(f"no channel named {name!r}; known: {known}") from None


def registered() -> list[str]:
    _load_builtin()
    return sorted(_registry)


_BUILTIN = ("email", "sms", "voice", "webhook", "chat")


def _load_builtin() -> None:
    """Import the channel modules that ship with amends, so they register."""
    import importlib

    for module in _BUILTIN:
        try:
            importlib.import_module(f"amends.delivery.channels.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"amends.delivery.channels.{module}":
                raise
