"""Generic webhook sink: the versioned alert JSON, signed with HMAC-SHA256 when a secret is set.

The signature covers ``timestamp + "." + body`` so that a receiver can reject both forged and replayed
requests (an old, validly signed request carries an old timestamp). ``docs/webhooks.md`` is the
receiver's side of this contract.
"""

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

from monitor.dispatch.notifier import Message


def render(message: Message) -> bytes:
    """Exactly the JSON stored in the outbox (``Alert.model_dump_json``) and described by the schema."""
    return message.model_dump_json().encode()


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signer(secret: bytes, clock: Callable[[], float] = time.time) -> Callable[[bytes], Mapping[str, str]]:
    """Headers for one attempt; the timestamp is the attempt's, so a resend is signed afresh."""

    def headers(body: bytes) -> Mapping[str, str]:
        timestamp = str(int(clock()))
        return {"X-Newsmon-Timestamp": timestamp, "X-Newsmon-Signature": signature(secret, timestamp, body)}

    return headers
