"""The e-mail channel: SMTP with TLS verified against the configured CA; credentials only ever over TLS."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from pamchain.sdk.notify.config import Recipient, SmtpSettings
from pamchain.sdk.notify.errors import DeliveryFailed
from pamchain.sdk.notify.messages import Notification, subject_line, text_body


class EmailChannel:
    """Sends one message per notification over a fresh connection (a relay's outage affects one attempt)."""

    name = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._password = settings.password()  # read once at start: a missing file is a startup error

    def destination(self, recipient: Recipient) -> str:
        return f"smtp:{self.settings.host}:{self.settings.port}"

    def _context(self) -> ssl.SSLContext:
        ca = self.settings.ca_file
        return ssl.create_default_context(cafile=str(ca) if ca is not None else None)

    def message(self, notification: Notification, recipient: Recipient) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = recipient.email or ""
        message["Subject"] = subject_line(notification)
        message["Date"] = formatdate(usegmt=True)
        # Stable per notification: a resend after a crash carries the same id, so mail clients can fold it.
        message["Message-ID"] = f"<{notification.id}@pamchain.notify>"
        message.set_content(text_body(notification))
        return message

    def send(self, notification: Notification, recipient: Recipient) -> None:
        where = self.destination(recipient)
        if not recipient.email:
            raise DeliveryFailed("recipient has no e-mail address", permanent=True, destination=where)
        message = self.message(notification, recipient)
        s = self.settings
        try:
            if s.tls == "implicit":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=self._context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with smtp:
                smtp.ehlo()
                if s.tls == "starttls":
                    if not smtp.has_extn("starttls"):
                        raise DeliveryFailed(
                            "server does not offer STARTTLS", permanent=False, destination=where
                        )
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                if s.username is not None and self._password is not None:
                    if s.tls == "none":  # refused at configuration time too; never send credentials in clear
                        raise DeliveryFailed("credentials without TLS", permanent=True, destination=where)
                    smtp.login(s.username, self._password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(code >= 500 for code in codes)
            raise DeliveryFailed(
                f"recipient refused ({codes})", permanent=permanent, destination=where
            ) from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx is the server's final word (bad sender, rejected message); 4xx and 421 mean later.
            permanent = exc.smtp_code >= 500
            raise DeliveryFailed(f"SMTP {exc.smtp_code}", permanent=permanent, destination=where) from exc
        except ssl.SSLError as exc:
            raise DeliveryFailed(f"TLS failed: {exc.reason}", permanent=False, destination=where) from exc
        except smtplib.SMTPException as exc:  # disconnected, AUTH not offered, ...
            raise DeliveryFailed(
                f"SMTP error: {type(exc).__name__}", permanent=False, destination=where
            ) from exc
        except OSError as exc:  # refused, unreachable, timed out
            raise DeliveryFailed(
                f"unreachable: {type(exc).__name__}", permanent=False, destination=where
            ) from exc
