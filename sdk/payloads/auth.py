"""How requests to the payload store are signed and checked: one message bound to the store, the chain and a
nonce; the memory of used nonces that refuses a replay; and the per-client rate limit.

The message a device or an oracle signs (EIP-191 ``personal_sign``)::

    pamchain-payload:v2:<verb>:<0x hash>:<unix time>:<nonce>:<chain id>:<store id>

so a captured request is good for one store, one chain and one use, within ``SIGNATURE_WINDOW`` seconds.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address
from pamchain.sdk.errors import SdkError

SIGNATURE_WINDOW = 120  # seconds a signed request stays valid (and its nonce is remembered)
TIME_HEADER = "X-Pamchain-Time"
NONCE_HEADER = "X-Pamchain-Nonce"
SIGNER_HEADER = "X-Pamchain-Signer"
SIGNATURE_HEADER = "X-Pamchain-Signature"
_NONCE = re.compile(r"^[0-9a-f]{32}$")


class SignatureRefused(SdkError, ValueError):
    """A request's signature headers are missing, malformed, stale, replayed or not for this store."""


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What a client binds its signatures to: the store's id and the chain it serves (``GET /v1/info``)."""

    store_id: str
    chain_id: int
    signature_window: int = SIGNATURE_WINDOW


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request whose signature checked out: who signed it, and the nonce to remember."""

    signer: str
    nonce: str
    timestamp: int


def message(verb: str, digest: str, timestamp: int, nonce: str, info: StoreInfo) -> str:
    return f"pamchain-payload:v2:{verb}:{digest}:{timestamp}:{nonce}:{info.chain_id}:{info.store_id}"


def signed_headers(
    account: LocalAccount, verb: str, digest: str, info: StoreInfo, *, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of one signed request (a fresh nonce each call)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = secrets.token_hex(16)
    text = message(verb, digest, timestamp, nonce, info)
    return {
        TIME_HEADER: str(timestamp),
        NONCE_HEADER: nonce,
        SIGNER_HEADER: account.address,
        SIGNATURE_HEADER: account.sign_message(encode_defunct(text=text)).signature.to_0x_hex(),
    }


def verify(headers: Mapping[str, str], verb: str, digest: str, info: StoreInfo, now: float) -> SignedRequest:
    """Check the headers against this store's message; cheap checks first, one signature recovery last."""
    try:
        timestamp = int(headers[TIME_HEADER])
        nonce = headers[NONCE_HEADER]
        claimed = headers[SIGNER_HEADER]
        signature = headers[SIGNATURE_HEADER]
    except (KeyError, ValueError) as exc:
        raise SignatureRefused(
            f"missing or malformed signature headers ({TIME_HEADER}, {NONCE_HEADER}, {SIGNER_HEADER}, "
            f"{SIGNATURE_HEADER})"
        ) from exc
    if abs(now - timestamp) > info.signature_window:
        raise SignatureRefused("signature outside its time window (check the device's clock)")
    if not _NONCE.match(nonce):
        raise SignatureRefused("nonce must be 32 lowercase hex digits")
    if not is_address(claimed):
        raise SignatureRefused("signer is not an address")
    try:
        signer = Account.recover_message(
            encode_defunct(text=message(verb, digest, timestamp, nonce, info)), signature=signature
        )
    except Exception as exc:  # eth-account raises several types for malformed signatures
        raise SignatureRefused("bad signature") from exc
    if signer != to_checksum_address(claimed):
        raise SignatureRefused("signature not signed for this store, chain and request")
    return SignedRequest(signer, nonce, timestamp)


class NonceMemory:
    """Nonces seen in the last window, per signer: a second use is a replay. Entries leave once their
    signature could no longer pass the time check anyway, so memory stays bounded by the request rate."""

    def __init__(self, window: float = SIGNATURE_WINDOW) -> None:
        self.window = window
        self._expiry: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, request: SignedRequest, now: float) -> bool:
        """Record the nonce; False if it was already used."""
        key = (request.signer, request.nonce)
        with self._lock:
            while self._expiry:
                oldest_key, oldest = next(iter(self._expiry.items()))
                if oldest > now:
                    break
                del self._expiry[oldest_key]
            if key in self._expiry:
                return False
            # The later of the two bounds: a timestamp ahead of the clock stays valid that much longer.
            self._expiry[key] = max(now, request.timestamp) + self.window + 1
            self._expiry.move_to_end(key)
            return True

    def __len__(self) -> int:
        return len(self._expiry)


class RateLimiter:
    """A token bucket per client key (its address): ``burst`` requests at once, then ``rate`` per second.
    At most ``max_keys`` buckets are kept; the least recently seen goes first."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate limit: rate must be more than 0 and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return allowed
