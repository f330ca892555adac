"""Sending e-mail through an SMTP relay with smtplib (STARTTLS or implicit TLS and authentication for
production relays; a plain local sink in development).

Failures are sorted into *temporary* (the relay is down, slow, or answers 4xx: try again later, the
delivery stays pending) and *permanent* (the relay refuses the recipient or the message with 5xx:
retrying cannot help). A relay that is down delays mail, never drops it."""
from __future__ import annotations

import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate


class TemporaryMailError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermanentMailError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    locale: str
    delivery_id: str


def build_message(mail: Mail, *, sender: str, msgid_domain: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    # Stable per delivery: a re-send after a crash is recognisably the same message.
    msg["Message-ID"] = f"<{mail.delivery_id}@{msgid_domain}>"
    msg["Auto-Submitted"] = "auto-generated"       # RFC 3834: no auto-replies to a notice
    msg["X-Care-Route-Delivery"] = mail.delivery_id
    msg.set_content(mail.text, subtype="plain", charset="utf-8")
    msg.add_alternative(mail.html, subtype="html", charset="utf-8")
    msg["Content-Language"] = mail.locale  # after the body: setting content drops Content-* headers
    return msg


class SmtpMailer:
    def __init__(self, *, host: str, port: int, sender: str, msgid_domain: str, starttls: bool = False,
                 use_ssl: bool = False, username: str | None = None, password: str | None = None,
                 timeout: float = 15.0, ssl_context: ssl.SSLContext | None = None, idle_seconds: float = 60.0) -> None:
        self.host, self.port, self.sender, self.msgid_domain = host, port, sender, msgid_domain
        self.idle_seconds = idle_seconds
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0
        self.starttls, self.use_ssl = starttls, use_ssl
        self.username, self.password = username, password
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                  context=self.ssl_context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        smtp.ehlo()
        if self.starttls and not self.use_ssl:
            smtp.starttls(context=self.ssl_context)
            smtp.ehlo()
        if self.username:
            smtp.login(self.username, self.password or "")
        return smtp

    def _session(self) -> smtplib.SMTP:
        """The open relay connection if it still answers, else a new one. Reusing it spares a TLS
        handshake and a login per batch; a relay that dropped the idle connection is simply redialled."""
        if self._smtp is not None:
            if time.monotonic() - self._last_used < self.idle_seconds:
                try:
                    if self._smtp.noop()[0] == 250:
                        return self._smtp
                except (OSError, smtplib.SMTPException):
                    pass
            self.close()
        self._smtp = self._connect()
        return self._smtp

    def send_all(self, mails: list[Mail]) -> list[Exception | None]:
        """Send a batch over one connection; one result per mail (None = accepted by the relay)."""
        if not mails:
            return []
        try:
            smtp = self._session()
        except smtplib.SMTPAuthenticationError:
            self.close()
            return [TemporaryMailError("auth") for _ in mails]       # a configuration fault: keep the mail
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            self.close()
            return [TemporaryMailError(_reason(exc)) for _ in mails]
        results: list[Exception | None] = []
        for mail in mails:
            result = self._send_one(smtp, mail)
            results.append(result)
            if isinstance(result, TemporaryMailError) and result.reason in ("disconnected", "connection",
                                                                            "timeout", "connection-refused"):
                self.close()   # the connection is gone: the rest of the batch waits for the next round
                results.extend(TemporaryMailError(result.reason) for _ in mails[len(results):])
                break
        self._last_used = time.monotonic()
        return results

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                try:
                    self._smtp.close()
                except OSError:
                    pass
            self._smtp = None

    def _send_one(self, smtp: smtplib.SMTP, mail: Mail) -> Exception | None:
        msg = build_message(mail, sender=self.sender, msgid_domain=self.msgid_domain)
        try:
            refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return PermanentMailError("recipient-refused") if all(c >= 500 for c in codes) \
                else TemporaryMailError("recipient-deferred")
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPServerDisconnected):
                return PermanentMailError(f"smtp-{exc.smtp_code}")
            return TemporaryMailError(f"smtp-{exc.smtp_code}")
        except (OSError, smtplib.SMTPException) as exc:
            return TemporaryMailError(_reason(exc))
        if refused:
            return PermanentMailError("recipient-refused")
        return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection-refused"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "disconnected"
    if isinstance(exc, OSError):
        return "connection"
    return "smtp"
