"""The notifier's exceptions."""

from __future__ import annotations

from pamchain.sdk.errors import SdkError


class NotifyError(SdkError):
    """Root of the notifier's errors."""


class DeliveryFailed(NotifyError):
    """A channel could not deliver one notification; ``permanent`` says whether retrying can help."""

    def __init__(self, reason: str, *, permanent: bool, destination: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.destination = destination
