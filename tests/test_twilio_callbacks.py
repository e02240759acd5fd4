"""Twilio status callbacks: signature check and what they mean for the ledger."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amends.delivery.channels.base import Outcome
from amends.delivery.channels.twilio import (
    InvalidCallback,
    parse_status_callback,
    twilio_signature,
    valid_signature,
)

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"


# The worked example of Twilio's "Webhooks security" page (Caller/From
# +14158675310) and the fixture twilio-node's tests sign (…309): this URL,
# these parameters, auth token 12345 give these signatures.
def example(caller: str) -> dict[str, str]:
    return {
        "CallSid": "CA1234567890ABCDE",
        "Caller": caller,
        "Digits": "1234",
        "From": caller,
        "To": "+18005551212",
    }


VECTORS = [
    (example("+14158675310"), "GvWf1cFY/Q7PnoempGyD5oXAezc="),
    (example("+14158675309"), "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
]


def independent_signature(token: str, url: str, params: dict[str, str]) -> str:
    data = url
    for key in sorted(params):
        data += key + params[key]
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


@pytest.mark.parametrize(("params", "signature"), VECTORS)
def test_twilio_published_vectors(params: dict[str, str], signature: str) -> None:
    assert twilio_signature(TOKEN, URL, params) == signature
    assert valid_signature(TOKEN, URL, params, signature)
    assert not valid_signature(TOKEN, URL, {**params, "Digits": "9999"}, signature)


@given(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=6))
def test_signature_matches_an_independent_computation(params: dict[str, str]) -> None:
    signature = independent_signature(TOKEN, URL, params)
    assert valid_signature(TOKEN, URL, params, signature)
    assert not valid_signature("other", URL, params, signature)
    assert not valid_signature(TOKEN, URL + "&x=1", params, signature)


def signed(params: dict[str, str]) -> dict[str, object]:
    return {"url": URL, "signature": independent_signature(TOKEN, URL, params), "auth_token": TOKEN}


@pytest.mark.parametrize(
    ("params", "outcome", "error"),
    [
        ({"MessageSid": "SM1", "MessageStatus": "delivered"}, Outcome.SENT, None),
        ({"MessageSid": "SM1", "MessageStatus": "sent"}, None, None),
        ({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"},
         Outcome.FAILED, "twilio undelivered (error 30003)"),
        ({"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "30008"},
         Outcome.FAILED, "twilio failed (error 30008)"),
        ({"CallSid": "CA1", "CallStatus": "completed"}, Outcome.SENT, None),
        ({"CallSid": "CA1", "CallStatus": "no-answer"}, Outcome.RETRY, "twilio no-answer"),
        ({"CallSid": "CA1", "CallStatus": "busy"}, Outcome.RETRY, "twilio busy"),
        ({"CallSid": "CA1", "CallStatus": "ringing"}, None, None),
    ],
)  # fmt: skip
def test_statuses_become_outcomes(
    params: dict[str, str], outcome: Outcome | None, error: str | None
) -> None:
    update = parse_status_callback(params, **signed(params))  # type: ignore[arg-type]
    assert update.provider_id in ("SM1", "CA1")
    assert update.outcome is outcome
    assert update.error == error


def test_a_forged_or_tampered_callback_is_rejected() -> None:
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    args = signed(params)
    with pytest.raises(InvalidCallback, match="Signature"):
        parse_status_callback({**params, "MessageStatus": "failed"}, **args)  # type: ignore[arg-type]
    with pytest.raises(InvalidCallback):
        parse_status_callback(params, url=URL, signature="", auth_token=TOKEN)
    with pytest.raises(InvalidCallback, match="neither"):
        parse_status_callback({"Foo": "1"}, **signed({"Foo": "1"}))  # type: ignore[arg-type]
