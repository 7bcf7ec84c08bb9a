"""The channels a delivery leaves by: a port (``Sender``) and the real implementations.

A sender raises :class:`TemporaryFailure` for what may work later (the server is down, a
timeout, a rate limit): the outbox retries it with backoff. It raises :class:`PermanentFailure`
for what never will (the address or number is refused): the delivery is marked failed at once.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol


class TemporaryFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


@dataclass(frozen=True)
class Delivery:
    """One row of the outbox, as a sender sees it."""

    delivery_id: str
    channel: str
    kind: str
    subscription_id: str
    customer_id: str
    recipient: str
    subject: str
    body: str
    html: str | None
    payload: dict[str, Any]
    attempts: int
    created_at: str | None = None
    #: Its order among its subscription's rows (a site's platform requests go in this order).
    sequence: int = 0


class Sender(Protocol):
    def deliver(self, delivery: Delivery) -> None: ...


class SmtpEmailSender:
    """E-mail over SMTP. The Message-ID is the delivery's own (``<delivery id@domain>``), so a
    copy that a retry after a crash sends again carries the same id and a receiver can drop it.

    With ``starttls`` the connection is upgraded to TLS and the server's certificate and name
    are verified against the system's trusted CAs (or ``ca_file``, for a private CA) before the
    password is sent: a server that cannot prove who it is gets nothing.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        ca_file: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls = username, password, starttls
        self.ca_file, self.timeout = ca_file, timeout

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def message_id(self, delivery: Delivery) -> str:
        domain = self.sender.rpartition("@")[2] or "billing.local"
        return f"<{delivery.delivery_id}@{domain}>"

    def deliver(self, delivery: Delivery) -> None:
        message = EmailMessage()
        message["Subject"] = delivery.subject
        message["From"] = self.sender
        message["To"] = delivery.recipient
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = self.message_id(delivery)
        message["X-Billing-Delivery"] = delivery.delivery_id
        message.set_content(delivery.body)
        if delivery.html:
            message.add_alternative(delivery.html, subtype="html")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.tls_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            # Per recipient (code, message): 4xx is "try later" (a full mailbox, greylisting),
            # 5xx is "never" (no such mailbox).
            codes = [code for code, _ in error.recipients.values()]
            text = f"the mail server refused {delivery.recipient}: {error.recipients}"
            if any(400 <= code < 500 for code in codes):
                raise TemporaryFailure(text) from None
            raise PermanentFailure(text) from None
        except smtplib.SMTPAuthenticationError as error:
            # Our own credentials, not this message: every notice would fail the same way,
            # so it is retried (and seen in the metrics) until an operator mends the setting.
            raise TemporaryFailure(
                f"SMTP {self.host}:{self.port} refused our login ({error.smtp_code}); check "
                "BILLING_SMTP_USERNAME and BILLING_SMTP_PASSWORD"
            ) from None
        except smtplib.SMTPResponseException as error:
            text = f"SMTP {self.host}:{self.port} answered {error.smtp_code}: {error.smtp_error!r}"
            if 500 <= error.smtp_code < 600:
                raise PermanentFailure(text) from None
            raise TemporaryFailure(text) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            raise TemporaryFailure(f"SMTP {self.host}:{self.port}: {error}") from None


class KavenegarSmsSender:
    """SMS through a Kavenegar-shaped HTTP API: POST {base}/v1/{api_key}/sms/send.json."""

    #: Kavenegar answers these for a number or a message it will never accept.
    PERMANENT = {400, 411, 412, 414, 415, 417, 426}

    def __init__(
        self, base_url: str, api_key: str, sender_line: str, *, timeout: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key, self.sender_line, self.timeout = api_key, sender_line, timeout

    def deliver(self, delivery: Delivery) -> None:
        import httpx

        # The API key is part of the provider's URL: it is never logged or kept in an error
        # (the outbox's last_error is read by people).
        url = f"{self.base_url}/v1/{self.api_key}/sms/send.json"
        form = {
            "receptor": delivery.recipient,
            "sender": self.sender_line,
            "message": delivery.body,
            # The provider drops a second message with the same local id: the delivery's id.
            "localid": delivery.delivery_id,
        }
        try:
            answer = httpx.post(url, data=form, timeout=self.timeout)
            body = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise TemporaryFailure(
                f"SMS provider unreachable or unreadable: {self._redacted(error)}"
            ) from None
        status = int(body.get("return", {}).get("status", answer.status_code))
        if status == 200:
            return
        text = body.get("return", {}).get("message", "")
        if status in self.PERMANENT:
            raise PermanentFailure(f"SMS provider refused the message ({status}: {text})")
        raise TemporaryFailure(f"SMS provider answered {status}: {text}")

    def _redacted(self, error: object) -> str:
        return str(error).replace(self.api_key, "***") if self.api_key else str(error)
