"""Notices and referrals: written from templates, sent by e-mail (SMTP) or webhook.

Writing and sending are apart: the text is written into a :class:`~kavach.takedown.models.Notice`
row in the transaction that decided to send it, and a job sends it (at least once; a notice
already marked sent is not sent again).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from importlib.resources import files
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import jinja2

from kavach.takedown.guard import AddressPolicy, system_resolver
from kavach.takedown.models import Notice, TakedownItem
from kavach.takedown.settings import TakedownSettings

__all__ = [
    "NoticeSender",
    "RoutingSender",
    "SendError",
    "SmtpSender",
    "WebhookSender",
    "channel_of",
    "render",
]


class SendError(Exception):
    """A notice could not be delivered this time (the job retries)."""


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


_env = jinja2.Environment(
    loader=jinja2.FunctionLoader(
        lambda name: (files("kavach.takedown") / "templates" / name).read_text("utf-8")
    ),
    autoescape=False,  # noqa: S701 (plain-text mail; nothing here is rendered as HTML)
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if value else "unknown"


def render(
    template: str,
    item: TakedownItem,
    *,
    organisation: str,
    settings: TakedownSettings,
    sequence: int,
    checked_at: dt.datetime | None,
    recipient_name: str = "",
) -> Rendered:
    """Write a notice (``notice.txt``) or referral (``referral.txt``) about ``item``."""
    matches: Sequence[dict[str, Any]] = item.matches or []
    media_urls = list(dict.fromkeys(str(m["url"]) for m in matches if m.get("url") != item.url))
    text = _env.get_template(template).render(
        reference=item.reference,
        sequence=sequence,
        host=item.host,
        url=item.url,
        media_urls=media_urls,
        ip=item.ip,
        asn=item.asn,
        network=item.network,
        country=item.country,
        abuse_contact=item.abuse_contact,
        confirmed_at=_when(item.confirmed_at),
        checked_at=_when(checked_at),
        notices=item.notices_sent,
        matches=matches,
        organisation=organisation,
        recipient_name=recipient_name,
        recheck_hours=f"{settings.recheck_hours:g}",
        escalate_after=settings.escalate_after,
    )
    first, _, rest = text.partition("\n")
    if not first.startswith("Subject: "):
        raise ValueError(f"template {template} must start with a Subject: line")
    return Rendered(subject=first.removeprefix("Subject: ").strip(), body=rest.lstrip("\n"))


def channel_of(address: str) -> str:
    """``webhook`` for an http(s) URL, ``email`` otherwise."""
    return "webhook" if address.lower().startswith(("https://", "http://")) else "email"


class NoticeSender(Protocol):
    """Sends one written notice; raises :class:`SendError` to have it retried."""

    def send(self, notice: Notice) -> None: ...


class SmtpSender:
    """Sends e-mail notices through the operator's SMTP server."""

    def __init__(
        self,
        settings: TakedownSettings,
        *,
        timeout: float = 30.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        # STARTTLS verifies the server's certificate against the system's CAs unless given a
        # context (a private CA; tests).
        self.tls = tls

    def send(self, notice: Notice) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"] = s.notice_from
        message["To"] = notice.recipient
        message["Subject"] = notice.subject
        message["Date"] = email.utils.format_datetime(dt.datetime.now(dt.UTC))
        # One id per notice, so a retried send is recognisable as the same message.
        domain = s.notice_from.rpartition("@")[2] or "localhost"
        message["Message-ID"] = f"<notice-{notice.id}@{domain}>"
        message.set_content(notice.body)
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=self.tls or ssl.create_default_context())
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP to {s.smtp_host}:{s.smtp_port} failed: {exc}") from None


class WebhookSender:
    """POSTs notices as JSON to a host's or hotline's webhook (addresses checked by policy)."""

    def __init__(self, client: httpx.Client, policy: AddressPolicy) -> None:
        self.client = client
        self.policy = policy

    def send(self, notice: Notice) -> None:
        parts = urlsplit(notice.recipient)
        host = parts.hostname or ""
        try:
            for address in system_resolver(host, parts.port or 443):
                self.policy.check(address)
        except Exception as exc:
            raise SendError(f"webhook {host}: {exc}") from None
        body = {
            "type": f"kavach.{notice.purpose.value}",
            "notice_id": notice.id,
            "sequence": notice.sequence,
            "subject": notice.subject,
            "text": notice.body,
        }
        try:
            response = self.client.post(
                notice.recipient,
                content=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise SendError(f"webhook {host} failed: {exc}") from None
        if response.status_code >= 300:
            raise SendError(f"webhook {host} answered HTTP {response.status_code}")


class RoutingSender:
    """Routes each notice to SMTP or a webhook by its channel."""

    def __init__(self, smtp: NoticeSender, webhook: NoticeSender | None = None) -> None:
        self.smtp = smtp
        self.webhook = webhook

    def send(self, notice: Notice) -> None:
        if notice.channel == "webhook":
            if self.webhook is None:
                raise SendError("webhook notices are not configured")
            self.webhook.send(notice)
        else:
            self.smtp.send(notice)
