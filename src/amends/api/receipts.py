"""Where providers report what became of messages they accepted.

``POST /providers/twilio/status`` is Twilio's status callback: it carries no
API key, so the ``X-Twilio-Signature`` over the exact configured URL is what
proves it is Twilio. ``POST /bounces`` takes one delivery status notification
(RFC 3464) as the mail system received it, from a mail hook holding a write
key; ``amends bounces`` does the same for an MTA that pipes to a command.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from amends.api.auth import AUTH_ERRORS, Writer
from amends.api.deps import SessionDep
from amends.delivery import receipts
from amends.delivery.bounces import parse_dsn
from amends.delivery.channels.twilio import (
    InvalidCallback,
    parse_status_callback,
    status_callback_url,
)
from amends.errors import AmendsError

router = APIRouter(tags=["deliveries"])


class BadSignature(AmendsError):
    code = "bad_signature"
    status = 403


@router.post("/providers/twilio/status", status_code=204, include_in_schema=False)
async def twilio_status(request: Request, session: SessionDep) -> None:
    """Twilio's status callback for messages and calls (form-encoded)."""
    settings = request.app.state.settings
    form = {key: str(value) for key, value in (await request.form()).items()}
    try:
        update = parse_status_callback(
            form,
            url=status_callback_url(settings),
            signature=request.headers.get("X-Twilio-Signature", ""),
            auth_token=settings.twilio_auth_token.get_secret_value(),
        )
    except InvalidCallback as exc:
        raise BadSignature(str(exc)) from None
    if update.outcome is not None:
        receipt = receipts.Receipt(
            update.outcome, provider_id=update.provider_id, error=update.error
        )
        receipts.apply_receipts(session=session, receipts=[receipt])


@router.post("/bounces", dependencies=[Writer], responses=AUTH_ERRORS)
async def bounce(request: Request, session: SessionDep) -> dict[str, Any]:
    """One DSN, raw (``message/rfc822`` or any type: the body is the message)."""
    settings = request.app.state.settings
    reports = parse_dsn(await request.body())
    found = receipts.receipts_from_bounces(reports, domain=settings.message_id_domain)
    applied = receipts.apply_receipts(session=session, receipts=found)
    return {
        "reports": len(reports),
        "failed": applied.failed,
        "ignored": len(reports) - applied.failed,
    }
