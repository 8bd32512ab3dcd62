"""The webhook channel: a JSON POST signed with HMAC-SHA256 under the endpoint's own secret.

Headers: ``X-Pamchain-Timestamp`` (Unix seconds), ``X-Pamchain-Signature: v1=<hex>`` where the MAC is over
``<timestamp>.<body>`` (so a captured request cannot be replayed later with a fresh time), and
``Idempotency-Key`` / ``X-Pamchain-Id`` (the notification id, stable across resends: receivers dedupe on it).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping

from pamchain.sdk.notify.config import Recipient, WebhookEndpoint
from pamchain.sdk.notify.errors import DeliveryFailed
from pamchain.sdk.notify.messages import Notification, as_json

SIGNATURE_HEADER = "X-Pamchain-Signature"
TIMESTAMP_HEADER = "X-Pamchain-Timestamp"
# Worth retrying: the receiver is busy, throttling or broken for now; any other 4xx will not change by itself.
_TRANSIENT = {408, 425, 429}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: following it would re-send the signed headers elsewhere
    (and turn the POST into a GET), so a 3xx surfaces as an HTTP error."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value; receivers recompute it and compare in constant time."""
    return "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """Posts to the endpoint a recipient names in the configuration."""

    name = "webhook"

    def __init__(
        self, endpoints: Mapping[str, WebhookEndpoint], clock: Callable[[], float] = time.time
    ) -> None:
        self.endpoints = dict(endpoints)
        self.clock = clock

    def destination(self, recipient: Recipient) -> str:
        return f"webhook:{recipient.webhook}"

    def send(self, notification: Notification, recipient: Recipient) -> None:
        endpoint = self.endpoints.get(recipient.webhook or "")
        where = self.destination(recipient)
        if endpoint is None:
            raise DeliveryFailed("no such webhook endpoint", permanent=True, destination=where)
        body = as_json(notification)
        stamp = str(int(self.clock()))
        request = urllib.request.Request(
            endpoint.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "pamchain-notify",
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: signature(endpoint.secret, stamp, body),
                "Idempotency-Key": notification.id,
                "X-Pamchain-Id": notification.id,
            },
        )
        try:
            with _OPENER.open(request, timeout=endpoint.timeout) as response:
                response.read(1024)
        except urllib.error.HTTPError as exc:
            code = exc.code
            # 3xx (moved: the configuration must change) and 4xx other than "later" will not heal by retrying.
            permanent = 300 <= code < 500 and code not in _TRANSIENT
            raise DeliveryFailed(f"HTTP {code}", permanent=permanent, destination=where) from exc
        except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, timed out, TLS failure
            reason = getattr(exc, "reason", exc)
            raise DeliveryFailed(
                f"unreachable: {type(reason).__name__}", permanent=False, destination=where
            ) from exc
