"""Delivery you can run: notices and site control arrive once, in order, whatever fails
(docs/SCHEDULER.md, docs/OPERATIONS.md). Real servers on loopback (SMTP, SMS provider, hosting
platform) are made to fail as an operator saw them fail."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest

from adapters.clock import SimulatedClock
from adapters.fakes import FakePlatform, FakeSmsProvider, SmtpSink
from adapters.notify.channels import (
    KavenegarSmsSender,
    PermanentFailure,
    SmtpEmailSender,
    TemporaryFailure,
)
from adapters.outbox import MAX_ATTEMPTS, retry_span
from adapters.platform import PlatformClient
from bootstrap import build_application, build_engine
from domain import lifecycle
from tests.builders import DAY, HOUR, T0, a_person, a_plan, delivery, random_ref


def _outside(smtp, sms, platform) -> dict:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "sms_base_url": sms.url,
        "sms_api_key": sms.api_key,
        "platform_url": platform.url,
        "platform_secret": platform.secret,
    }


def _subscriptions(app, n: int, at=T0) -> list:
    app.define_plan(a_plan(), at)
    customer = app.register_customer(a_person(), at)
    return [app.start_subscription(customer, "basic", "monthly", at) for _ in range(n)]


def _platform_matches_the_engine(engine, platform) -> list[str]:
    from adapters.platform import PLATFORM_STATE

    engine.read_models.catch_up()
    rows = engine.read_models.query("SELECT site, site_state FROM {rm_subscriptions}")
    return [
        f"{r['site']}: engine {r['site_state']}, platform {platform.state.sites.get(r['site'])}"
        for r in rows
        if platform.state.sites.get(r["site"]) != PLATFORM_STATE[r["site_state"]]
    ]


# --- 1. a paying customer's site never stays switched off ---------------------------------------


@pytest.mark.slow
def test_site_requests_go_out_in_order_per_site_after_the_platform_recovers(tmp_path):
    """The platform answers 500 while the sites are suspended, then the customers pay: when it
    recovers, each site's suspend is superseded by its restore and the sites end up. Before,
    the restore went out at once and the retried suspend after it: 30 of 30 sites ended
    suspended on the platform while the engine said up."""
    clock = SimulatedClock(T0)
    with SmtpSink() as smtp, FakeSmsProvider() as sms, FakePlatform() as platform:
        engine = build_engine(
            database_url=f"sqlite:///{tmp_path}/order.sqlite",
            clock=clock,
            **_outside(smtp, sms, platform),
        )
        app = engine.app
        subs = _subscriptions(app, 6)
        engine.tick()
        assert len(platform.state.applied) == 6  # every site created
        platform.fail_with = 500
        for _ in range(34):
            clock.advance(DAY)
            engine.tick()
        for sub in subs[:4]:  # four of the six pay
            life = app.lifecycle_of(sub)
            due = lifecycle.amount_due(life.subscription, life.invoices)
            app.record_payment(random_ref(), due, clock.now(), subscription_id=sub)
        engine.tick()  # the restores are queued behind the failing suspends
        platform.fail_with = None
        for _ in range(20):
            clock.advance(HOUR)
            engine.tick()
        assert _platform_matches_the_engine(engine, platform) == []
        restored = {app.get_subscription(s).site for s in subs[:4]}
        assert len(restored) == 4
        for site in restored:
            actions = [r.action for r in platform.state.applied if r.site == site]
            assert actions == ["create", "restore"], actions  # the suspend was superseded
        skipped = engine.read_models.query(
            "SELECT last_error FROM {outbox} WHERE channel = 'platform' AND status = 'skipped'"
        )
        assert len(skipped) == 4 and all(
            "superseded by the later restore" in r["last_error"] for r in skipped
        )
        engine.close()


def test_the_site_reconciliation_corrects_drift_and_counts_it(tmp_path, caplog):
    clock = SimulatedClock(T0)
    with SmtpSink() as smtp, FakeSmsProvider() as sms, FakePlatform() as platform:
        engine = build_engine(
            database_url=f"sqlite:///{tmp_path}/drift.sqlite",
            clock=clock,
            **_outside(smtp, sms, platform),
        )
        subs = _subscriptions(engine.app, 3)
        engine.tick()
        sites = [engine.app.get_subscription(s).site for s in subs]
        assert engine.reconcile_sites() == 0  # nothing differs
        platform.state.sites[sites[0]] = "suspended"  # changed by hand on the platform
        del platform.state.sites[sites[1]]  # lost by the platform
        with caplog.at_level(logging.WARNING, logger="billing.scheduler"):
            assert engine.reconcile_sites() == 2
        assert (
            sum("on the hosting platform but active in the engine" in m for m in caplog.messages)
            == 2
        )
        assert engine.metrics.sites_corrected == 2
        assert "billing_platform_sites_corrected_total 2" in engine.metrics_text()
        engine.tick()
        assert _platform_matches_the_engine(engine, platform) == []
        assert engine.reconcile_sites() == 0
        engine.close()


def test_the_site_reconciliation_sets_the_plan_in_force_where_the_platform_lost_it(tmp_path):
    """The platform lists each site's plan; one on another plan gets a plan request, and one
    the platform lost is created again on the engine's plan (docs/SCHEDULER.md)."""
    clock = SimulatedClock(T0)
    with SmtpSink() as smtp, FakeSmsProvider() as sms, FakePlatform() as platform:
        engine = build_engine(
            database_url=f"sqlite:///{tmp_path}/plans.sqlite",
            clock=clock,
            **_outside(smtp, sms, platform),
        )
        subs = _subscriptions(engine.app, 2)
        engine.tick()
        sites = [engine.app.get_subscription(s).site for s in subs]
        assert {platform.state.plans[s] for s in sites} == {"basic"}
        assert engine.reconcile_sites() == 0
        platform.state.plans[sites[0]] = "premium"  # changed by hand on the platform
        del platform.state.sites[sites[1]], platform.state.plans[sites[1]]  # lost
        assert engine.reconcile_sites() == 2
        engine.tick()
        assert [platform.state.plans[s] for s in sites] == ["basic", "basic"]
        assert [r.action for r in platform.state.applied if r.site == sites[0]][-1] == "plan"
        assert platform.state.sites[sites[0]] == "active"
        assert _platform_matches_the_engine(engine, platform) == []
        assert engine.reconcile_sites() == 0
        engine.close()


def test_a_request_the_platform_refuses_for_good_is_failed_and_reconciled(tmp_path):
    clock = SimulatedClock(T0)
    with SmtpSink() as smtp, FakeSmsProvider() as sms, FakePlatform() as platform:
        engine = build_engine(
            database_url=f"sqlite:///{tmp_path}/refused.sqlite",
            clock=clock,
            **_outside(smtp, sms, platform),
        )
        _subscriptions(engine.app, 1)
        platform.fail_with = 422
        engine.tick()
        failed = engine.dispatcher.store.failed_deliveries()
        assert [(f["channel"], f["status"]) for f in failed] == [("platform", "failed")]
        platform.fail_with = None
        assert engine.reconcile_sites() == 1
        engine.tick()
        assert _platform_matches_the_engine(engine, platform) == []
        engine.close()


# --- 2. the outbox starts where the log starts --------------------------------------------------


def test_orders_taken_before_any_scheduler_started_get_their_site_and_notices(tmp_path):
    """`serve --no-scheduler` on a new database, a plan, a customer, an order; then the first
    scheduler. Before, the scheduler moved the outbox to the end of the log: 0 rows, no site."""
    url = f"sqlite:///{tmp_path}/new.sqlite"
    with SmtpSink() as smtp, FakeSmsProvider() as sms, FakePlatform() as platform:
        api = build_engine(database_url=url, clock=SimulatedClock(T0))  # the API process
        sub = _subscriptions(api.app, 1)[0]
        site = api.app.get_subscription(sub).site
        api.close()
        scheduler = build_engine(
            database_url=url, clock=SimulatedClock(T0 + HOUR), **_outside(smtp, sms, platform)
        )
        scheduler.tick()
        assert [(r.site, r.action) for r in platform.state.applied] == [(site, "create")]
        assert any("صورتحساب" in m["Subject"] for m in smtp.messages)  # invoice_issued
        scheduler.close()


def test_on_a_store_with_history_from_before_its_outbox_the_reconciliation_sets_the_sites(
    tmp_path,
):
    """A history recorded before the store had an outbox (`billing demo`, or an outbox
    deployed later) is not sent; the site reconciliation creates the sites it ordered; what
    happens from then on is sent."""
    url = f"sqlite:///{tmp_path}/old.sqlite"
    app = build_application(database_url=url)  # no outbox yet
    sub = _subscriptions(app, 1)[0]
    with SmtpSink() as smtp, FakeSmsProvider() as sms, FakePlatform() as platform:
        engine = build_engine(
            database_url=url, clock=SimulatedClock(T0 + DAY), **_outside(smtp, sms, platform)
        )
        engine.tick()
        assert smtp.messages == [] and sms.sent == [] and platform.state.applied == []
        assert engine.reconcile_sites() == 1
        engine.tick()
        assert platform.state.sites == {app.get_subscription(sub).site: "active"}
        engine.app.record_payment(random_ref(), 1_000, T0 + DAY, subscription_id=sub)
        engine.tick()  # what happens from now on is sent
        assert len(smtp.messages) == 1 and len(sms.sent) == 1
        engine.close()


def test_a_hold_reaches_the_customer_by_email_once_with_its_end_the_amount_and_the_link(
    tmp_path,
):
    """Finance places an enforcement hold through the engine; the next tick's delivery sends
    the hold_placed notice to the customer's address over real SMTP (and by SMS), once."""
    from adapters.notify.render import persian_moment

    clock = SimulatedClock(T0)
    with SmtpSink() as smtp, FakeSmsProvider() as sms, FakePlatform() as platform:
        engine = build_engine(
            database_url=f"sqlite:///{tmp_path}/hold.sqlite",
            clock=clock,
            public_url="https://pay.example",
            **_outside(smtp, sms, platform),
        )
        app = engine.app
        sub = _subscriptions(app, 1)[0]
        invoice_id = app.get_subscription(sub).invoice_ids[0]
        engine.tick()  # the order's invoice notice goes out first
        clock.advance(DAY)
        until = T0 + 40 * DAY
        app.place_hold(sub, "the customer's dispute is with the court", until, clock.now())
        engine.tick()
        engine.tick()  # nothing is sent twice
        held = [m for m in smtp.messages if "توقف پیگیری بدهی" in m["Subject"]]
        assert len(held) == 1, [m["Subject"] for m in smtp.messages]
        message = held[0]
        assert message["To"] == "sara@example.ir"
        assert persian_moment(until) in message["Subject"]
        text = message.get_body(("plain",)).get_content()
        assert persian_moment(until) in text and "تعلیق یا جمع‌آوری نمی‌شود" in text
        assert "۱٬۱۰۰٬۰۰۰ ریال" in text and f"https://pay.example/pay/{invoice_id}?t=" in text
        assert "rtl" in message.get_body(("html",)).get_content()
        texts = [s.message for s in sms.sent if persian_moment(until) in s.message]
        assert len(texts) == 1 and f"https://pay.example/pay/{invoice_id}?t=" in texts[0]
        engine.close()


# --- 3. leases fit the work: no duplicate from slowness ----------------------------------------


@pytest.mark.slow
def test_two_dispatchers_and_a_slow_smtp_server_send_each_message_once(tmp_path):
    """A lease shorter than the batch takes to send: before, the rows of a batch were leased
    once for five minutes and a second, healthy dispatcher sent them again (26 of 30)."""
    url = f"sqlite:///{tmp_path}/slow.sqlite"
    with SmtpSink() as smtp:
        smtp.delay = 0.3
        engines = [
            build_engine(
                database_url=url,
                clock=SimulatedClock(T0),
                smtp_host="127.0.0.1",
                smtp_port=smtp.port,
                delivery_timeout=0.5,
                delivery_lease=1.5,
            )
            for _ in range(2)
        ]
        _subscriptions(engines[0].app, 10)
        for engine in engines:
            engine.read_models.catch_up()
        runs = [
            threading.Thread(
                target=engine.dispatcher.dispatch, args=(100,), kwargs={"channel": "email"}
            )
            for engine in engines
        ]
        for run in runs:
            run.start()
        for run in runs:
            run.join()
        for engine in engines:  # what a lost lease left is sent by the next run
            engine.dispatcher.dispatch(100, channel="email")
        ids = [m["Message-ID"] for m in smtp.messages]
        assert len(ids) == 10 and len(set(ids)) == 10, ids
        for engine in engines:
            engine.close()


def test_the_message_id_and_the_sms_local_id_are_the_delivery_id():
    with SmtpSink() as smtp, FakeSmsProvider() as sms:
        SmtpEmailSender("127.0.0.1", smtp.port, sender="b@saman360.example").deliver(
            delivery("email", recipient="s@example.ir")
        )
        KavenegarSmsSender(sms.url, sms.api_key, "1000").deliver(delivery("sms"))
        assert smtp.messages[0]["Message-ID"] == "<sub/7/email@saman360.example>"
        assert sms.sent[0].localid == "sub/7/sms"


# --- 4. replies classified by code ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("451 4.2.0 mailbox busy, try again later", TemporaryFailure),
        ("550 5.1.1 no such user", PermanentFailure),
    ],
)
def test_an_smtp_refusal_is_retried_when_temporary_and_final_when_permanent(reply, kind):
    """Before, a 451 'try later' was treated as final: 37 e-mails failed at once."""
    with SmtpSink() as smtp:
        smtp.refuse_recipients = reply
        with pytest.raises(kind, match=reply.split()[0]):
            SmtpEmailSender("127.0.0.1", smtp.port, sender="b@saman360.example").deliver(
                delivery("email", recipient="s@example.ir")
            )


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, TemporaryFailure),
        (429, TemporaryFailure),
        (401, TemporaryFailure),
        (404, PermanentFailure),
        (422, PermanentFailure),
    ],
)
def test_the_platform_answers_are_classified(status, kind):
    with FakePlatform() as platform:
        platform.fail_with = status
        with pytest.raises(kind, match=str(status)):
            PlatformClient(platform.url, platform.secret).deliver(delivery("platform"))


def test_a_temporary_smtp_refusal_is_retried_with_backoff_by_the_dispatcher(tmp_path):
    clock = SimulatedClock(T0)
    with SmtpSink() as smtp:
        engine = build_engine(
            database_url=f"sqlite:///{tmp_path}/451.sqlite",
            clock=clock,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
        )
        _subscriptions(engine.app, 1)
        smtp.refuse_recipients = "451 4.7.1 greylisted"
        engine.tick()
        assert engine.dispatcher.store.counts()[("email", "pending")] == 1
        smtp.refuse_recipients = None
        clock.advance(timedelta(minutes=2))
        engine.tick()
        assert engine.dispatcher.store.counts()[("email", "delivered")] == 1
        engine.close()


def test_notices_are_retried_for_about_a_day():
    span = retry_span(MAX_ATTEMPTS)
    assert timedelta(hours=23) < span < timedelta(hours=25), span


# --- 5. delivery apart from the lifecycle ----------------------------------------------------------


@pytest.mark.slow
def test_a_hanging_platform_does_not_hold_up_the_lifecycle_or_the_other_channels(tmp_path):
    """Before, delivery ran inside the tick: a hanging platform held each tick for minutes."""
    clock = SimulatedClock(T0)
    with SmtpSink() as smtp, FakeSmsProvider() as sms, FakePlatform() as platform:
        platform.delay = 5.0  # longer than the whole test: every platform run hangs
        engine = build_engine(
            database_url=f"sqlite:///{tmp_path}/hang.sqlite",
            clock=clock,
            tick_interval=0.05,
            delivery_interval=0.05,
            delivery_timeout=3.0,
            delivery_lease=10.0,
            **_outside(smtp, sms, platform),
        )
        subs = _subscriptions(engine.app, 2)
        engine.start()
        try:
            time.sleep(0.5)  # the platform's runs are now stuck on the first request
            ticks = engine.metrics.ticks
            clock.advance(28 * DAY)  # reminders fall due
            time.sleep(1.5)  # the platform still hangs all along
            assert engine.metrics.ticks > ticks + 5  # ticks went on meanwhile
            assert any("یادآوری" in m["Subject"] for m in smtp.messages)  # e-mail went out
            assert all(
                len(engine.app.get_invoice(engine.app.get_subscription(s).invoice_ids[0]).notices)
                >= 2
                for s in subs
            )
            assert platform.state.applied == []  # still hanging
        finally:
            platform.delay = 0.0
            engine.close()


# --- 8. secrets never in logs ------------------------------------------------------------------------


@pytest.mark.slow
def test_no_configured_secret_reaches_a_log_line_or_the_outbox(tmp_path, caplog):
    """Before, httpx logged each SMS request's full URL, the provider's API key in it."""
    secrets = {"sms": "sms-key-7f3a9c", "platform": "platform-secret-51e2", "smtp": "smtp-pw-88d1"}
    clock = SimulatedClock(T0)
    with (
        SmtpSink() as smtp,
        FakeSmsProvider(api_key=secrets["sms"]) as sms,
        FakePlatform(secret=secrets["platform"]) as platform,
    ):
        engine = build_engine(
            database_url=f"sqlite:///{tmp_path}/secrets.sqlite",
            clock=clock,
            smtp_password=secrets["smtp"],
            **_outside(smtp, sms, platform),
        )
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("httpx").setLevel(logging.DEBUG)
            subs = _subscriptions(engine.app, 1)
            for _ in range(40):
                clock.advance(DAY)
                engine.tick()
                if clock.now() == T0 + 20 * DAY:
                    sms.failing = True  # errors now, with the provider's URL
                if clock.now() == T0 + 25 * DAY:
                    sms.failing = False
                    sms.stop()  # unreachable: the client's error names the URL
            life = engine.app.lifecycle_of(subs[0])
            assert life.subscription.status.value in ("suspended", "grace", "collected")
        text = "\n".join(caplog.text.splitlines()) + "".join(
            str(r.get("last_error")) for r in engine.dispatcher.store.failed_deliveries(1000)
        )
        assert "HTTP Request" in caplog.text  # httpx did log its requests
        for name, secret in secrets.items():
            assert secret not in text, f"the {name} secret is in the logs"
        engine.close()
