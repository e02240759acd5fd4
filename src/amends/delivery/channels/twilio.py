"""The Twilio REST API as SMS and voice use it, and its status callbacks.

Requests (Twilio API reference, "Messages resource" and "Call resource"):
``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` or
``…/Calls.json``, form-encoded, HTTP basic auth (Account SID, Auth Token);
the JSON answer carries the resource's ``sid``, which the ledger keeps as the
provider id and which the status callbacks name later.

Status callbacks are form POSTs signed with ``X-Twilio-Signature``:
base64(HMAC-SHA1(auth token, full URL + each POST parameter name and value,
sorted by name)) ("Webhooks security" in Twilio's docs). The ``twilio``
package's RequestValidator does the same, but pulls in aiohttp, requests and
PyJWT for eleven lines of arithmetic; the algorithm is implemented here and
tested against a signature computed independently in the tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from amends.config import Settings
from amends.delivery.channels.base import Outcome

if TYPE_CHECKING:
    import httpx

API_VERSION = "2010-04-01"


@dataclass(frozen=True, slots=True)
class TwilioAccount:
    """Where and as whom to call Twilio."""

    account_sid: str
    auth_token: str
    base_url: str = "https://api.twilio.com"
    sender: str = ""  # From: E.164 number or alphanumeric sender id
    messaging_service_sid: str = ""
    status_callback: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioAccount:
        if not settings.twilio_account_sid or not settings.twilio_auth_token.get_secret_value():
            raise ValueError("twilio_account_sid and twilio_auth_token must be set")
        return cls(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            base_url=settings.twilio_base_url.rstrip("/"),
            sender=settings.twilio_from,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            status_callback=status_callback_url(settings),
        )

    def url(self, resource: str) -> str:
        return f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}/{resource}.json"

    @property
    def auth(self) -> httpx.BasicAuth:
        import httpx

        return httpx.BasicAuth(self.account_sid, self.auth_token)

    def sender_fields(self) -> dict[str, str]:
        """From, or MessagingServiceSid when one is configured (Twilio picks the number)."""
        if self.messaging_service_sid:
            return {"MessagingServiceSid": self.messaging_service_sid}
        if not self.sender:
            raise ValueError("twilio_from or twilio_messaging_service_sid must be set")
        return {"From": self.sender}


def status_callback_url(settings: Settings) -> str:
    """The address Twilio posts status changes to (``api/receipts.py``)."""
    return f"{settings.public_url.rstrip('/')}/api/v1/providers/twilio/status"


def resource_sid(response: httpx.Response) -> str | None:
    """The ``sid`` of the message or call Twilio created."""
    try:
        body = response.json()
    except ValueError:
        return None
    sid = body.get("sid") if isinstance(body, dict) else None
    return str(sid) if sid else None


# --- status callbacks -------------------------------------------------------


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """``X-Twilio-Signature`` for a form POST to ``url`` with ``params``."""
    data = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def valid_signature(auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Whether a callback really comes from Twilio (constant-time comparison)."""
    if not signature or not auth_token:
        return False
    expected = twilio_signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), signature.encode())


# Message statuses: queued/accepted/sending/sent are steps on the way (no change
# for the ledger, which already says "sent" = accepted by the provider).
_MESSAGE = {
    "delivered": Outcome.SENT,
    "read": Outcome.SENT,
    "undelivered": Outcome.FAILED,
    "failed": Outcome.FAILED,
}
_CALL = {
    "completed": Outcome.SENT,
    "busy": Outcome.RETRY,
    "no-answer": Outcome.RETRY,
    "failed": Outcome.FAILED,
    "canceled": Outcome.FAILED,
}


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """What a status callback says about one message or call."""

    provider_id: str
    outcome: Outcome | None  # None: an intermediate step, nothing to record
    status: str
    error: str | None = None


class InvalidCallback(ValueError):
    """Not a genuine, well-formed Twilio status callback."""


def parse_status_callback(
    params: Mapping[str, str], *, url: str, signature: str, auth_token: str
) -> StatusUpdate:
    """Check the signature, then read (provider id, outcome, error) from the form.

    ``url`` must be the exact URL Twilio posted to (scheme, host, path, query),
    as configured in ``status_callback_url``; behind a proxy, not the one the
    app sees.
    """
    if not valid_signature(auth_token, url, params, signature):
        raise InvalidCallback("X-Twilio-Signature does not match")
    if params.get("MessageSid"):
        sid, status, table = params["MessageSid"], params.get("MessageStatus", ""), _MESSAGE
    elif params.get("CallSid"):
        sid, status, table = params["CallSid"], params.get("CallStatus", ""), _CALL
    else:
        raise InvalidCallback("neither MessageSid nor CallSid in the callback")
    if not status:
        raise InvalidCallback(f"no status for {sid}")
    outcome = table.get(status)
    error = None
    if outcome is not Outcome.SENT and outcome is not None:
        code = params.get("ErrorCode") or params.get("SipResponseCode")
        error = f"twilio {status}" + (f" (error {code})" if code else "")
    return StatusUpdate(provider_id=sid, outcome=outcome, status=status, error=error)
