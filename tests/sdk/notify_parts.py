"""Real receivers for the notifier's tests: an SMTP server with STARTTLS (aiosmtpd) under a test CA made with
the ``openssl`` CLI, and an HTTP webhook receiver that checks the HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

SMTP_USER = "pamchain-relay"
SMTP_PASSWORD = "relay-password-for-tests"


@dataclass(frozen=True)
class Pki:
    """A CA and a server certificate for 127.0.0.1 / localhost that it signed."""

    ca_cert: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def make_pki(folder: Path) -> Pki:
    """Generate a fresh CA and server certificate with the openssl command line."""
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=pamchain test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost")  # fmt: skip
    (folder / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
    )
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    return Pki(folder / "ca.pem", folder / "server.pem", folder / "server.key")


@dataclass
class Mailbox:
    """What the SMTP server accepted; ``refuse`` holds addresses it answers 550 for."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content or b""
        with self.lock:
            self.messages.append(
                {
                    "to": list(envelope.rcpt_tos),
                    "content": content.decode() if isinstance(content, bytes) else content,
                    "tls": session.ssl is not None,
                    "authenticated": bool(session.authenticated),
                }
            )
        return "250 OK"

    def to(self, address: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if address in m["to"]]


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@contextmanager
def smtp_server(pki: Pki, port: int, mailbox: Mailbox) -> Iterator[Controller]:
    """An SMTP server on 127.0.0.1:port that requires STARTTLS before mail and authentication."""
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=pki.server_context(),
        require_starttls=True,
        authenticator=_authenticator,
        auth_require_tls=True,
        ready_timeout=30,
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@dataclass
class Hook:
    """A webhook receiver's record of one request."""

    status: int
    verified: bool
    idempotency_key: str
    document: dict[str, Any]


class WebhookReceiver:
    """An HTTP server that checks ``X-Pamchain-Signature`` and answers from a script of status codes."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.script: list[int] = []  # status codes to answer first, then 200
        self.hooks: list[Hook] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                stamp = self.headers.get("X-Pamchain-Timestamp", "")
                expected = (
                    "v1="
                    + hmac.new(receiver.secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                )
                verified = hmac.compare_digest(expected, self.headers.get("X-Pamchain-Signature", ""))
                with receiver.lock:
                    status = receiver.script.pop(0) if receiver.script else (200 if verified else 401)
                    receiver.hooks.append(
                        Hook(status, verified, self.headers.get("Idempotency-Key", ""), json.loads(body))
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/pamchain"

    def accepted(self) -> list[Hook]:
        with self.lock:
            return [h for h in self.hooks if h.status == 200]

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
