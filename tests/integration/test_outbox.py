"""The channels against their local stand-ins (the same contract a real provider answers), the
dispatcher's retries and backoff, and every notice template rendered in Persian."""

from __future__ import annotations

import socket
import ssl
from datetime import timedelta

import pytest

from adapters.clock import SimulatedClock
from adapters.fakes import FakePlatform, FakeSmsProvider, SmtpSink
from adapters.notify.channels import (
    Delivery,
    KavenegarSmsSender,
    PermanentFailure,
    SmtpEmailSender,
    TemporaryFailure,
)
from adapters.notify.render import NoticeRenderer
from adapters.outbox import BACKOFF_CAP, Dispatcher, OutboxStore, backoff
from adapters.platform import PlatformClient
from bootstrap import build_application, build_read_models
from domain.base import NoticeKind
from tests.builders import DAY, HOUR, T0, a_person, a_plan, delivery

# --- SMS ---------------------------------------------------------------------------------------


def test_sms_is_sent_once_per_delivery_even_when_retried():
    with FakeSmsProvider() as provider:
        sender = KavenegarSmsSender(provider.url, provider.api_key, "10004346")
        sender.deliver(delivery())
        sender.deliver(delivery())  # a retry after a lost answer
        assert [(s.receptor, s.message) for s in provider.sent] == [
            ("09121234567", "متن پیام ۱٬۰۰۰ ریال")
        ]


def test_sms_to_a_number_the_provider_refuses_is_a_permanent_failure():
    with FakeSmsProvider() as provider:
        sender = KavenegarSmsSender(provider.url, provider.api_key, "10004346")
        with pytest.raises(PermanentFailure, match="411"):
            sender.deliver(delivery(recipient="12345"))


def test_sms_provider_down_is_a_temporary_failure():
    with FakeSmsProvider() as provider:
        provider.failing = True
        with pytest.raises(TemporaryFailure):
            KavenegarSmsSender(provider.url, provider.api_key, "1").deliver(delivery())
    with pytest.raises(TemporaryFailure):
        KavenegarSmsSender("http://127.0.0.1:9", "k", "1", timeout=1).deliver(delivery())


# --- the hosting platform ------------------------------------------------------------------------


def test_platform_requests_are_signed_and_applied_once_per_idempotency_key():
    with FakePlatform(secret="s3cret") as platform:
        client = PlatformClient(platform.url, "s3cret")
        client.deliver(delivery("platform"))
        client.deliver(delivery("platform"))  # the same delivery again
        assert [(r.site, r.action) for r in platform.state.applied] == [("site-1", "suspend")]
        assert platform.state.sites == {"site-1": "suspended"}


def test_a_request_signed_with_the_wrong_secret_is_refused_and_retried():
    with FakePlatform(secret="right") as platform:
        with pytest.raises(TemporaryFailure, match="401"):
            PlatformClient(platform.url, "wrong").deliver(delivery("platform"))
        assert platform.state.applied == [] and platform.state.rejected


# --- e-mail ---------------------------------------------------------------------------------------


def test_email_goes_to_a_real_smtp_server_with_both_parts_and_a_stable_message_id():
    with SmtpSink() as smtp:
        sender = SmtpEmailSender("127.0.0.1", smtp.port, sender="billing@saman360.example")
        sender.deliver(delivery("email", recipient="sara@example.ir"))
        sender.deliver(delivery("email", recipient="sara@example.ir"))  # resent after a crash
        message, resent = smtp.messages
        assert message["To"] == "sara@example.ir"
        assert message["X-Billing-Delivery"] == "sub/7/email"
        # The delivery's own id: a receiver recognises the resent copy and drops it.
        assert message["Message-ID"] == resent["Message-ID"] == "<sub/7/email@saman360.example>"
        assert message.get_body(("plain",)).get_content().strip() == "متن پیام ۱٬۰۰۰ ریال"
        assert "rtl" in message.get_body(("html",)).get_content()


def test_starttls_verifies_the_server_before_the_password_is_sent(tmp_path):
    """A server whose certificate no trusted CA signed gets nothing; with the private CA
    named (BILLING_SMTP_CA_FILE) the same server is trusted. Before, STARTTLS ran without a
    context: any certificate was accepted and the password went to whoever was in the path."""
    import trustme

    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with SmtpSink(tls_context=tls) as smtp:
        untrusting = SmtpEmailSender(
            "127.0.0.1", smtp.port, sender="billing@saman360.example", starttls=True
        )
        with pytest.raises(TemporaryFailure, match="CERTIFICATE_VERIFY_FAILED"):
            untrusting.deliver(delivery("email", recipient="sara@example.ir"))
        assert smtp.messages == []
        trusting = SmtpEmailSender(
            "127.0.0.1",
            smtp.port,
            sender="billing@saman360.example",
            starttls=True,
            ca_file=str(ca_file),
        )
        trusting.deliver(delivery("email", recipient="sara@example.ir"))
        assert len(smtp.messages) == 1


def test_no_smtp_server_is_a_temporary_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TemporaryFailure):
        SmtpEmailSender("127.0.0.1", port, sender="b@x.example", timeout=2).deliver(
            delivery("email")
        )


# --- the dispatcher -----------------------------------------------------------------------------


def test_backoff_doubles_from_a_minute_up_to_four_hours():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(30) == BACKOFF_CAP


class Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def deliver(self, delivery: Delivery) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error


@pytest.fixture
def outbox(tmp_path):
    url = f"sqlite:///{tmp_path}/o.sqlite"
    app = build_application(database_url=url)
    read_models = build_read_models(app, database_url=url)
    app.define_plan(a_plan(), T0)
    app.start_subscription(app.register_customer(a_person(), T0), "basic", "monthly", T0)
    read_models.catch_up()
    return OutboxStore(read_models)


def test_a_failing_channel_is_retried_with_backoff_then_delivered(outbox):
    clock = SimulatedClock(T0)
    sms = Flaky(2, TemporaryFailure("down"))
    dispatcher = Dispatcher(
        outbox,
        {"sms": sms, "email": Flaky(0, None), "panel": Flaky(0, None), "platform": Flaky(0, None)},
        clock,
    )
    first = dispatcher.dispatch()
    assert first.retried == 1 and first.delivered == 3
    assert dispatcher.dispatch().retried == 0  # not due again before its backoff
    clock.advance(timedelta(minutes=1))
    assert dispatcher.dispatch().retried == 1
    clock.advance(timedelta(minutes=2))
    assert dispatcher.dispatch().delivered == 1
    assert outbox.counts()[("sms", "delivered")] == 1


def test_notices_give_up_after_max_attempts_but_the_platform_never_does(outbox):
    clock = SimulatedClock(T0)
    dispatcher = Dispatcher(
        outbox,
        {
            "sms": Flaky(99, TemporaryFailure("down")),
            "platform": Flaky(99, TemporaryFailure("down")),
            "email": Flaky(0, None),
            "panel": Flaky(0, None),
        },
        clock,
        max_attempts=3,
    )
    for _ in range(6):
        dispatcher.dispatch()
        clock.advance(5 * DAY)
    counts = outbox.counts()
    assert counts[("sms", "failed")] == 1
    assert counts[("platform", "pending")] == 1  # still being retried
    failing = {row["channel"]: row for row in outbox.failed_deliveries()}
    assert (
        failing["sms"]["status"] == "failed"
        and "gave up after 3 attempts" in failing["sms"]["last_error"]
    )
    assert failing["platform"]["attempts"] == 6
    assert outbox.requeue_failed(clock.now()) == 1
    assert outbox.counts()[("sms", "pending")] == 1


def test_a_permanent_failure_is_not_retried_and_an_unconfigured_channel_is_skipped(outbox):
    clock = SimulatedClock(T0)
    report = Dispatcher(
        outbox,
        {"sms": Flaky(1, PermanentFailure("invalid number")), "panel": Flaky(0, None)},
        clock,
    ).dispatch()
    assert (report.failed, report.skipped, report.delivered) == (
        1,
        2,
        1,
    )  # e-mail and platform not configured
    assert outbox.counts()[("email", "skipped")] == 1


# --- templates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [k.value for k in NoticeKind])
def test_every_notice_renders_in_persian_with_what_happens_next(kind):
    renderer = NoticeRenderer(
        portal_name="Saman360",
        payment_link="https://pay.example/{invoice_id}",
        support_email="s@x.example",
    )
    context = {
        "name": "سارا احمدی",
        "site": "site-5c4c1b6e",
        "plan": "Basic",
        "grace_days": 3,
        "number": 2,
        "invoice": "42708641",
        "payment_link": "https://pay.example/42708641",
        "deadline": "2026-05-04T05:30:00Z",
        "suspension_at": "2026-05-07T05:30:00Z",
        "collection_at": "2026-06-06T05:30:00Z",
        "amount_due": 2_750_000,
        "amount": 1_000_000,
        "credit": 0,
        "reference": "A0001",
        "site_state": "suspended",
        "amount_voided": 2_750_000,
        "note": "",
        "reason": "the slip does not match",
        "action_not_before": "2026-05-09T05:30:00Z",
        "cause": None,
        "until": "2026-06-01T05:30:00Z",
        "hold_until": None,
    }
    rendered = renderer.render(kind, context)
    for text in (rendered.subject, rendered.text, rendered.sms):
        assert text and "None" not in text and "{{" not in text
    assert 'dir="rtl"' in rendered.html
    assert any("\u0600" <= ch <= "\u06ff" for ch in rendered.text)  # Persian script
    if kind in ("payment_reminder", "grace_started"):
        assert "۱۷ اردیبهشت ۱۴۰۵" in rendered.text  # the suspension date, Jalali, Persian digits
        assert "۲٬۷۵۰٬۰۰۰ ریال" in rendered.text
        assert "https://pay.example/42708641" in rendered.text
    if kind in ("site_suspended", "collection_warning"):
        assert "۱۶ خرداد ۱۴۰۵" in rendered.text  # the collection date


def test_a_restore_notice_names_the_site_and_says_what_restored_it(tmp_path):
    """The facts' "site" is the site's state ("up"): the message must name the website itself,
    and a restore by a void says so instead of announcing a payment of 0 rials."""
    url = f"sqlite:///{tmp_path}/o.sqlite"
    app = build_application(database_url=url)
    read_models = build_read_models(app, database_url=url)
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_person(), T0)
    first, second = (
        app.start_subscription(customer, "basic", "monthly", T0 + n * DAY) for n in range(2)
    )
    now = T0 + 40 * DAY  # both suspended
    app.advance(now, on_time=True)
    app.void_invoice(app.get_subscription(first).invoice_ids[0], "set up by mistake", now)
    app.record_payment("R-77", 1_100_000, now, subscription_id=second)
    read_models.catch_up()
    restored = [
        row
        for row in read_models.query(
            "SELECT subscription_id, body FROM {outbox} WHERE kind = 'site_restored' "
            "AND channel = 'panel'"
        )
    ]
    bodies = {row["subscription_id"]: row["body"] for row in restored}
    by_void, by_payment = bodies[str(first)], bodies[str(second)]
    for sub_id, body in ((first, by_void), (second, by_payment)):
        assert app.get_subscription(sub_id).site in body
        assert " up " not in body and "\u2067up\u2069" not in body
    assert "باطل" in by_void and "پرداخت" not in by_void
    assert "R-77" in by_payment and "۱٬۱۰۰٬۰۰۰ ریال" in by_payment


# --- the notices of a hold and of money kept as credit, rendered from their events ------------------


def _outbox_app(tmp_path):
    from tests.builders import a_company

    url = f"sqlite:///{tmp_path}/notices.sqlite"
    app = build_application(database_url=url)
    read_models = build_read_models(
        app,
        database_url=url,
        public_url="https://pay.example",
        support_email="support@saman360.example",
    )
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_company(), T0)
    sub_id = app.start_subscription(customer, "basic", "monthly", T0)
    return app, read_models, sub_id, app.get_subscription(sub_id).invoice_ids[0]


def _said(read_models, kind: str) -> list[dict]:
    read_models.catch_up()
    assert kind.isidentifier()  # a notice kind, written into the statement
    return read_models.query(
        "SELECT channel, subject, body, html FROM {outbox} "
        f"WHERE kind = '{kind}' AND channel IN ('email', 'sms', 'panel') "
        "ORDER BY sequence, channel"
    )


def test_a_hold_and_the_reminders_under_it_say_on_hold_until_and_no_suspension_date(tmp_path):
    from adapters.notify.render import persian_moment

    app, read_models, sub_id, invoice_id = _outbox_app(tmp_path)
    deadline = T0 + 30 * DAY
    until = deadline + 10 * DAY  # 1405/02/24 09:00 Tehran: past the plan's suspension moment
    app.place_hold(sub_id, "court order", until, T0 + DAY)
    app.advance(deadline + 4 * DAY, on_time=True)
    on_hold_until = persian_moment(until)
    assert on_hold_until == "۲۴ اردیبهشت ۱۴۰۵ ساعت ۰۹:۰۰"
    would_have_been = persian_moment(deadline + 3 * DAY)  # the deadline plus grace
    link = f"https://pay.example/pay/{invoice_id}?t="  # the invoice page, signed

    placed = _said(read_models, "hold_placed")
    assert [r["channel"] for r in placed] == ["email", "panel", "sms"]
    for row in placed:
        assert on_hold_until in row["body"] and link in row["body"]
        assert "۱٬۱۰۰٬۰۰۰ ریال" in row["body"]  # still due, in Persian digits
    email = placed[0]
    assert on_hold_until in email["subject"] and "تعلیق یا جمع‌آوری نمی‌شود" in email["body"]
    assert 'dir="rtl"' in email["html"] and link in email["html"]

    for kind, count in (("payment_reminder", 2), ("grace_started", 1)):
        rows = _said(read_models, kind)
        assert len(rows) == 3 * count
        for row in rows:
            assert on_hold_until in row["body"] and link in row["body"], (kind, row["channel"])
            assert would_have_been not in row["body"], (kind, row["channel"])
            assert "در توقف" in row["body"] or "متوقف است" in row["body"]
        emails = [r["body"] for r in rows if r["channel"] == "email"]
        assert all("۱٬۱۰۰٬۰۰۰ ریال" in body for body in emails)


def test_the_end_of_a_hold_gives_the_payment_link_and_the_day_before_any_action(tmp_path):
    from adapters.notify.render import persian_moment

    app, read_models, sub_id, invoice_id = _outbox_app(tmp_path)
    until = T0 + 40 * DAY
    app.place_hold(sub_id, "court order", until, T0 + DAY)
    app.advance(until + HOUR, on_time=True)
    (email,) = [r for r in _said(read_models, "hold_ended") if r["channel"] == "email"]
    assert persian_moment(until + DAY) in email["body"]  # no action sooner
    assert f"https://pay.example/pay/{invoice_id}?t=" in email["body"]
    assert "۲٬۲۰۰٬۰۰۰ ریال" in email["body"]  # the first invoice and the renewal of day 31


def test_money_kept_as_credit_says_how_much_why_and_how_to_get_it_back(tmp_path):
    from domain.money import Money

    app, read_models, sub_id, invoice_id = _outbox_app(tmp_path)
    authority = "A00000000000000000000000000000000077"
    app.open_payment_link(invoice_id, authority, Money(1_100_000), "zarinpal", T0 + DAY)
    app.void_invoice(invoice_id, "issued by mistake", T0 + DAY + timedelta(hours=1))
    app.record_gateway_outcome(authority, T0 + 2 * DAY, verified_ref_id="R-5")
    rows = _said(read_models, "payment_kept_as_credit")
    assert [r["channel"] for r in rows] == ["email", "panel", "sms"]
    for row in rows:
        assert "۱٬۱۰۰٬۰۰۰ ریال" in row["body"] and f"gateway:{authority}" in row["body"]
        assert "باطل" in row["body"] and "اعتبار" in row["body"]
        assert "support@saman360.example" in row["body"]  # to ask for it back
    assert "۱٬۱۰۰٬۰۰۰ ریال" in rows[0]["subject"]


@pytest.mark.parametrize("via", ["transfer", "gateway"])
def test_a_refund_notice_says_how_much_how_it_was_sent_and_the_credit_left(via):
    renderer = NoticeRenderer(
        portal_name="Saman360",
        payment_link="https://pay.example/{invoice_id}",
        support_email="s@x.example",
    )
    bank_reference = "PAYA-77" if via == "transfer" else "reverse:A0001"
    rendered = renderer.render(
        "refund_sent",
        {
            "name": "سارا احمدی",
            "site": "site-5c4c1b6e",
            "invoice": "42708641",
            "payment_link": "https://pay.example/42708641",
            "amount": 300_000,
            "via": via,
            "bank_reference": bank_reference,
            "reason": "درخواست مشتری",
            "credit": 200_000,
            "payment_reference": None,
        },
    )
    assert "۳۰۰٬۰۰۰ ریال" in rendered.subject
    assert "۲۰۰٬۰۰۰ ریال" in rendered.text and "درخواست مشتری" in rendered.text
    assert bank_reference in rendered.sms
    if via == "gateway":
        assert "کارتی" in rendered.text
    else:
        assert "PAYA-77" in rendered.text
