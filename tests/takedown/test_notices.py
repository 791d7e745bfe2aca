"""Sending notices: SMTP with STARTTLS and login (aiosmtpd on loopback), and webhooks."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import httpx
import pytest

from kavach.takedown.guard import AddressPolicy
from kavach.takedown.models import Notice, NoticePurpose
from kavach.takedown.notices import RoutingSender, SendError, SmtpSender, WebhookSender
from kavach.takedown.settings import get_takedown_settings
from tests.takedown.helpers import TlsPair, smtp_sink, tls_pair, webhook_inbox

LOGIN = ("kavach-notices", "a long smtp password")


def _notice(recipient: str, channel: str = "email") -> Notice:
    return Notice(
        id=41,
        item_id=1,
        purpose=NoticePurpose.NOTICE,
        sequence=2,
        channel=channel,
        recipient=recipient,
        recipient_name="Test Net",
        subject="[KV-TEST-0001] Notice 2: listed material at host.test",
        body="The address http://host.test/p serves listed material.\n",
    )


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsPair:
    return tls_pair(Path(tmp_path_factory.mktemp("tls")))


def test_smtp_starttls_and_login(tls: TlsPair) -> None:
    with smtp_sink(tls=tls.server, login=LOGIN) as smtp:

        def sender(**settings: object) -> SmtpSender:
            values: dict[str, object] = {
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "smtp_user": LOGIN[0],
                "smtp_password": LOGIN[1],
                "smtp_starttls": True,
                "notice_from": "hotline@kavach.test",
                **settings,
            }
            return SmtpSender(get_takedown_settings({}, **values), tls=tls.client, timeout=10)

        sender().send(_notice("abuse@net.test"))
        assert smtp.logins == [LOGIN[0]]
        [(rcpt, message)] = smtp.messages
        assert rcpt == ["abuse@net.test"]
        assert message["From"] == "hotline@kavach.test"
        assert message["Message-ID"] == "<notice-41@kavach.test>"
        assert "KV-TEST-0001" in message["Subject"]
        assert "serves listed material" in message.get_payload()

        with pytest.raises(SendError, match=r"SMTP to 127\.0\.0\.1"):
            sender(smtp_password="wrong").send(_notice("abuse@net.test"))
        with pytest.raises(SendError, match="AUTH"):  # no login offered before STARTTLS
            sender(smtp_starttls=False).send(_notice("abuse@net.test"))
        with pytest.raises(SendError, match="CERTIFICATE_VERIFY_FAILED"):
            # Without the test CA the self-signed certificate is not trusted: no silent downgrade.
            SmtpSender(sender().settings, timeout=10).send(_notice("abuse@net.test"))
        assert len(smtp.messages) == 1
        assert smtp.logins == [LOGIN[0]]


def test_webhook_notices_and_their_failures() -> None:
    loopback = AddressPolicy((ipaddress.ip_network("127.0.0.0/8"),))
    with webhook_inbox() as inbox, httpx.Client(trust_env=False, timeout=10) as client:
        routed = RoutingSender(
            SmtpSender(get_takedown_settings({})), WebhookSender(client, loopback)
        )
        routed.send(_notice(inbox.url, channel="webhook"))
        [body] = inbox.bodies
        assert body["type"] == "kavach.notice"
        assert body["notice_id"] == 41
        assert body["sequence"] == 2
        assert "KV-TEST-0001" in body["subject"]
        assert "serves listed material" in body["text"]

        inbox.answer = 500
        with pytest.raises(SendError, match="HTTP 500"):  # the job retries it
            routed.send(_notice(inbox.url, channel="webhook"))

        # A webhook on a loopback or private address needs the operator's explicit allowance.
        inbox.answer = 200
        with pytest.raises(SendError, match=r"127\.0\.0\.1"):
            WebhookSender(client, AddressPolicy()).send(_notice(inbox.url, channel="webhook"))
        assert len(inbox.bodies) == 2

    with pytest.raises(SendError, match="not configured"):
        RoutingSender(SmtpSender(get_takedown_settings({}))).send(
            _notice("https://hook.test/", channel="webhook")
        )
