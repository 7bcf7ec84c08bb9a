"""Paying, end to end through real HTTP: the payment link, the sandbox gateway's page, the
callback, verification; offline requests and receipts; finance's decisions. On SQLite and on
the real PostgreSQL."""

from __future__ import annotations

import hashlib
import re
import threading
from uuid import uuid4

import httpx
import pytest

from adapters.sandbox_gateway import TEST_CARD, SandboxGateway
from tests.api.server import bearer, served
from tests.api.shop import Shop
from tests.builders import DAY, T0, a_pdf_slip
from tests.stores import postgres_schema


class PaymentsOverHttp:
    database_url: str

    @pytest.fixture
    def shop(self):
        with SandboxGateway() as gateway:
            shop = Shop(self.database_url, gateway, gateway_timeout=1.0)
            yield shop
            shop.engine.close()

    def pay_at_the_gateway(
        self, shop: Shop, http: httpx.Client, choice: str = "pay"
    ) -> httpx.Response:
        link = http.post(f"/invoices/{shop.invoice}/payment-link", headers=shop.me)
        assert link.status_code == 200, link.text
        page = httpx.get(link.json()["url"])
        assert page.status_code == 200 and "۲٬۷۵۰٬۰۰۰" in page.text
        action = re.search(rf'action="([^"]+/{choice})"', page.text).group(1)
        redirect = httpx.post(shop.gateway.url + action)
        assert redirect.status_code == 302
        return redirect

    def test_link_sandbox_pay_callback_verify_restore(self, shop):
        with served(shop.api, shop.sock) as http:
            shop.suspend(http)
            redirect = self.pay_at_the_gateway(shop, http)
            back = httpx.get(redirect.headers["location"], headers={"Accept": "application/json"})
            assert back.status_code == 200, back.text
            assert back.json()["status"] == "paid" and back.json()["restored"] is True
            assert back.json()["amount"] == 2_750_000
            assert shop.status(http) == "active"
            html = httpx.get(redirect.headers["location"], headers={"Accept": "text/html"})
            assert "پرداخت شما ثبت شد" in html.text  # a replay: still one payment
        assert len(shop.payments()) == 1

    def test_the_same_callback_twenty_times_at_once_records_one_payment(self, shop):
        with served(shop.api, shop.sock) as http:
            shop.suspend(http)
            target = self.pay_at_the_gateway(shop, http).headers["location"]
            answers: list[int] = []

            def call():
                answers.append(
                    httpx.get(
                        target, headers={"Accept": "application/json"}, timeout=60
                    ).status_code
                )

            threads = [threading.Thread(target=call) for _ in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert answers == [200] * 20
        paid = shop.payments()
        assert len(paid) == 1 and paid[0].data["amount"] == 2_750_000

    def test_a_verify_timeout_is_settled_by_reconciliation_once(self, shop):
        with served(shop.api, shop.sock) as http:
            shop.suspend(http)
            target = self.pay_at_the_gateway(shop, http).headers["location"]
            shop.gateway.faults = {"verify": "timeout"}
            pending = httpx.get(target, headers={"Accept": "application/json"}, timeout=30).json()
            assert pending["status"] == "pending"
            assert shop.payments() == [] and shop.status(http) == "suspended"
            shop.gateway.faults = {}
            report = shop.engine.payments.reconcile()
            assert (report.checked, report.recorded) == (1, 1)
            assert shop.engine.payments.reconcile().checked == 0
            assert shop.status(http) == "active"
        assert len(shop.payments()) == 1

    @pytest.mark.parametrize("code", [-52, -12])
    def test_a_transient_verify_error_leaves_the_payment_to_reconciliation(self, shop, code):
        """-52 or -12 on verify says nothing about the money: pending, then recorded once."""
        with served(shop.api, shop.sock) as http:
            shop.suspend(http)
            target = self.pay_at_the_gateway(shop, http).headers["location"]
            shop.gateway.faults = {"verify": code}
            pending = httpx.get(target, headers={"Accept": "application/json"}).json()
            assert pending["status"] == "pending", pending
            assert shop.payments() == [] and shop.status(http) == "suspended"
            shop.gateway.faults = {}
            report = shop.engine.payments.reconcile()
            assert (report.checked, report.recorded) == (1, 1)
            assert shop.engine.payments.reconcile().checked == 0
            assert shop.status(http) == "active"
        assert len(shop.payments()) == 1

    def test_a_nok_callback_for_a_payment_the_gateway_holds_is_recorded_by_reconciliation(
        self, shop
    ):
        """The customer paid, but the callback said NOK: the gateway lists it as paid and
        unverified, so reconciliation verifies it and records it once."""
        with served(shop.api, shop.sock) as http:
            link = http.post(f"/invoices/{shop.invoice}/payment-link", headers=shop.me).json()
            assert shop.gateway.settle(link["authority"])
            nok = http.get(
                "/payments/callback", params={"Authority": link["authority"], "Status": "NOK"}
            ).json()
            assert nok["status"] == "cancelled" and shop.payments() == []
            report = shop.engine.payments.reconcile()
            assert (report.checked, report.recorded) == (1, 1)
            assert shop.engine.payments.reconcile().checked == 0
            invoice = http.get(f"/invoices/{shop.invoice}", headers=shop.me).json()
            assert invoice["paid"] == 2_750_000
        assert len(shop.payments()) == 1

    def test_nok_records_nothing_and_a_tampered_amount_has_no_effect(self, shop):
        with served(shop.api, shop.sock) as http:
            cancelled = self.pay_at_the_gateway(shop, http, choice="cancel").headers["location"]
            assert "Status=NOK" in cancelled
            assert (
                httpx.get(cancelled, headers={"Accept": "application/json"}).json()["status"]
                == "cancelled"
            )
            assert shop.payments() == []
            paid = self.pay_at_the_gateway(shop, http).headers["location"] + "&Amount=1&amount=1"
            result = httpx.get(paid, headers={"Accept": "application/json"}).json()
            assert result["status"] == "paid" and result["amount"] == 2_750_000
            forged = httpx.get(
                f"{shop.base}/payments/callback",
                params={"Authority": "A" + "9" * 35, "Status": "OK"},
            )
            assert forged.status_code == 404 and forged.json()["code"] == "payment_link_not_found"
        assert [p.data["amount"] for p in shop.payments()] == [2_750_000]

    def test_an_amount_below_the_gateway_minimum_is_refused_clearly(self, shop):
        with served(shop.api, shop.sock) as http:
            http.post(
                f"/invoices/{shop.invoice}/payments",
                json={"reference": "B1", "amount": 2_745_000},
                headers=shop.finance,
            )
            refused = http.post(f"/invoices/{shop.invoice}/payment-link", headers=shop.me)
            assert refused.status_code == 409 and refused.json()["code"] == "below_gateway_minimum"
            assert (
                "5,000 rials" in refused.json()["detail"] and "10,000" in refused.json()["detail"]
            )

    def test_a_paid_invoice_gets_no_payment_link_because_nothing_is_left_to_pay(self, shop):
        with served(shop.api, shop.sock) as http:
            paid = http.post(
                f"/invoices/{shop.invoice}/payments",
                json={"reference": "B2", "amount": 2_750_000},
                headers=shop.finance,
            )
            assert paid.status_code in (200, 201), paid.text
            refused = http.post(f"/invoices/{shop.invoice}/payment-link", headers=shop.me)
            assert refused.status_code == 409 and refused.json()["code"] == "nothing_to_pay"
            assert "paid in full" in refused.json()["detail"]

    def test_offline_request_approve_receipt_confirm_restores(self, shop):
        with served(shop.api, shop.sock) as http:
            shop.suspend(http)
            asked = http.post(
                f"/invoices/{shop.invoice}/offline-requests",
                json={"reason": "We pay by transfer"},
                headers=shop.me,
            )
            assert asked.status_code == 201, asked.text
            approved = http.post(
                f"/offline-requests/{asked.json()['id']}/approve",
                json={"reason": "ok"},
                headers=shop.finance,
            )
            assert approved.json()["status"] == "approved"
            invoice = http.get(f"/invoices/{shop.invoice}", headers=shop.me).json()
            assert invoice["due_at"] > "2026-05-08"  # the deadline moved
            scan = a_pdf_slip("a bank slip")
            import base64

            receipt = http.post(
                f"/invoices/{shop.invoice}/receipts",
                json={
                    "bank": "017",
                    "tracking_number": "123456789012",
                    "amount": 2_750_000,
                    "paid_on": "1405/02/18",
                    "scan_base64": base64.b64encode(scan).decode(),
                },
                headers=shop.me,
            )
            assert receipt.status_code == 201, receipt.text
            got = http.get(f"/receipts/{receipt.json()['id']}/scan", headers=shop.finance)
            assert got.content == scan and got.headers["content-type"] == "application/pdf"
            again = http.post(
                f"/invoices/{shop.invoice}/receipts",
                json={
                    "bank": "17",
                    "tracking_number": "1234 5678 9012",
                    "amount": 1_000,
                    "paid_on": "1405/02/18",
                },
                headers=shop.me,
            )
            assert again.status_code == 409 and again.json()["code"] == "tracking_number_used"
            confirmed = http.post(f"/receipts/{receipt.json()['id']}/confirm", headers=shop.finance)
            assert confirmed.status_code == 200 and confirmed.json()["restored"] is True
            assert shop.status(http) == "active"
        assert len(shop.payments()) == 1

    def test_rejections_notify_and_record_nothing_as_paid(self, shop):
        with served(shop.api, shop.sock) as http:
            first = http.post(
                f"/invoices/{shop.invoice}/offline-requests",
                json={"reason": "please"},
                headers=shop.me,
            ).json()
            refused = http.post(
                f"/offline-requests/{first['id']}/reject",
                json={"reason": "pay online"},
                headers=shop.finance,
            )
            assert refused.json()["status"] == "rejected"
            again = http.post(f"/offline-requests/{first['id']}/approve", headers=shop.finance)
            assert again.status_code == 409 and again.json()["code"] == "offline_request_refused"
            second = http.post(
                f"/invoices/{shop.invoice}/offline-requests",
                json={"reason": "again"},
                headers=shop.me,
            ).json()
            http.post(f"/offline-requests/{second['id']}/approve", headers=shop.finance)
            receipt = shop.mellat_receipt(http, "555555", 2_750_000)
            rejected = http.post(
                f"/receipts/{receipt['id']}/reject",
                json={"reason": "no such transfer"},
                headers=shop.finance,
            )
            assert rejected.json()["status"] == "rejected"
            http.post("/admin/tick", headers=shop.admin)
            inbox = http.get(f"/customers/{shop.customer}/inbox", headers=shop.me).json()["items"]
            assert {"offline_rejected", "offline_approved", "receipt_rejected"} <= {
                m["kind"] for m in inbox
            }
            assert http.get(f"/invoices/{shop.invoice}", headers=shop.me).json()["paid"] == 0
        assert shop.payments() == []

    def test_finance_finds_what_awaits_its_decision_oldest_first(self, shop):
        app = shop.api.state.context.app
        second_site = app.start_subscription(shop.customer, "business", "monthly", T0)
        other_invoice = app.get_subscription(second_site).invoice_ids[0]
        with served(shop.api, shop.sock) as http:

            def ask(reason: str, invoice=shop.invoice) -> dict:
                asked = http.post(
                    f"/invoices/{invoice}/offline-requests",
                    json={"reason": reason},
                    headers=shop.me,
                )
                assert asked.status_code == 201, asked.text
                http.post("/admin/clock/advance", json={"days": 0.5}, headers=shop.admin)
                return asked.json()

            rejected = ask("first")
            http.post(
                f"/offline-requests/{rejected['id']}/reject",
                json={"reason": "pay online"},
                headers=shop.finance,
            )
            approved = ask("second")
            http.post(f"/offline-requests/{approved['id']}/approve", headers=shop.finance)
            receipt = shop.mellat_receipt(http, "777777", 1_000_000)
            http.post("/admin/clock/advance", json={"days": 0.5}, headers=shop.admin)
            waiting = ask("third", other_invoice)  # one open request per invoice

            def listed(query: str, headers: dict) -> list[str]:
                got = http.get(f"/offline-payments{query}", headers=headers)
                assert got.status_code == 200, got.text
                return [item["id"] for item in got.json()["items"]]

            everything = [rejected["id"], approved["id"], receipt["id"], waiting["id"]]
            assert listed("", shop.finance) == everything
            assert listed("?awaiting_decision=true", shop.finance) == [receipt["id"], waiting["id"]]
            assert listed("?kind=request&status=pending", shop.finance) == [waiting["id"]]
            assert listed("?status=rejected", shop.finance) == [rejected["id"]]
            assert listed(f"?invoice_id={shop.invoice}", shop.me) == everything[:3]
            assert listed("", shop.me) == everything

            first = http.get("/offline-payments?awaiting_decision=true", headers=shop.finance)
            item = first.json()["items"][0]
            assert item["kind"] == "receipt" and item["status"] == "under_review"
            assert item["subscription_id"] == str(shop.subscription)
            assert item["customer_id"] == str(shop.customer)
            assert item["detail"]["tracking_number"] == "777777"

            # Page by page, in the same order, with nothing repeated or left out.
            paged, cursor = [], None
            while True:
                query = "?limit=1" + (f"&cursor={cursor}" if cursor else "")
                page = http.get(f"/offline-payments{query}", headers=shop.finance).json()
                paged += [i["id"] for i in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert paged == everything

            # Another customer sees none of it; a forged cursor is refused with its field named.
            stranger = bearer(shop.api.state.context.tokens.create("customer", T0, subject=uuid4()))
            assert listed("", stranger) == []
            agent = shop.api.state.context.tokens.create("representative", T0, subject=uuid4())
            assert listed("", bearer(agent)) == []

            bad = http.get("/offline-payments?cursor=bm90LWEtY3Vyc29y", headers=shop.finance)
            assert bad.status_code == 422 and bad.json()["code"] == "invalid_input"
            assert "cursor" in bad.json()["detail"]
            wrong = http.get("/offline-payments?status=paid", headers=shop.finance)
            assert wrong.status_code == 422, wrong.text

    def test_a_hold_stops_suspension_and_its_end_gives_notice_first(self, shop):
        with served(shop.api, shop.sock) as http:
            placed = http.post(
                f"/subscriptions/{shop.subscription}/enforcement-hold",
                json={"reason": "court order", "until": (T0 + 40 * DAY).isoformat()},
                headers=shop.finance,
            )
            assert placed.status_code == 200, placed.text
            http.post("/admin/clock/advance", json={"days": 39}, headers=shop.admin)
            assert shop.status(http) == "grace"  # past deadline and grace, but held
            http.post("/admin/clock/advance", json={"days": 1.5}, headers=shop.admin)
            assert shop.status(http) == "grace"  # the hold ended: a notice first, a day's lead
            http.post("/admin/clock/advance", json={"days": 1}, headers=shop.admin)
            assert shop.status(http) == "suspended"
            timeline = http.get(
                f"/audit/{shop.subscription}/timeline", headers=shop.finance
            ).json()["items"]
            names = [e["event"] for e in timeline]
            assert names.index("EnforcementHoldEnded") < names.index("SiteSuspended")
            ended = next(e for e in timeline if e["event"] == "EnforcementHoldEnded")
            suspended = next(e for e in timeline if e["event"] == "SiteSuspended")
            assert suspended["recorded_at"] >= (T0 + 41 * DAY).isoformat().replace("+00:00", "Z")
            assert ended["recorded_at"] == (T0 + 40 * DAY).isoformat().replace("+00:00", "Z")

    def test_paying_a_link_after_its_invoice_was_voided_keeps_the_money_as_credit(self, shop):
        with served(shop.api, shop.sock) as http:
            link = http.post(f"/invoices/{shop.invoice}/payment-link", headers=shop.me)
            page = httpx.get(link.json()["url"])
            action = re.search(r'action="([^"]+/pay)"', page.text).group(1)
            voided = http.post(
                f"/invoices/{shop.invoice}/void", json={"reason": "duplicate"}, headers=shop.finance
            )
            assert voided.status_code == 200, voided.text
            redirect = httpx.post(shop.gateway.url + action)  # the customer pays meanwhile
            back = httpx.get(redirect.headers["location"], headers={"Accept": "application/json"})
            assert back.json()["status"] == "paid" and back.json()["restored"] is False
            assert "kept as your credit" in back.json()["message"]
            customer = http.get(f"/customers/{shop.customer}", headers=shop.me).json()
            assert customer["credit"] == 2_750_000
        assert shop.payments() == []  # nothing was applied to the voided invoice

    def test_voiding_the_overdue_invoice_restores_the_site(self, shop):
        with served(shop.api, shop.sock) as http:
            shop.suspend(http)
            voided = http.post(
                f"/invoices/{shop.invoice}/void",
                json={"reason": "issued by mistake"},
                headers=shop.finance,
            )
            assert voided.json()["status"] == "void"
            assert shop.status(http) in ("active", "grace")
            assert (
                http.post(
                    f"/invoices/{shop.invoice}/void", json={"reason": "again"}, headers=shop.finance
                ).status_code
                == 409
            )


class TestPaymentsOnSQLite(PaymentsOverHttp):
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path):
        self.database_url = f"sqlite:///{tmp_path}/pay.sqlite"


@pytest.mark.postgres
class TestPaymentsOnPostgreSQL(PaymentsOverHttp):
    @pytest.fixture(autouse=True)
    def _store(self):
        with postgres_schema() as url:
            self.database_url = url
            yield


CARD_HASH = hashlib.sha256(TEST_CARD.encode()).hexdigest().upper()


def test_no_card_number_is_stored_anywhere(tmp_path, caplog):
    """The gateway's verify answer carries a masked card number and a card hash: neither may
    reach the events, the read models, the outbox or the logs."""
    import logging
    import sqlite3

    caplog.set_level(logging.DEBUG)
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/cards.sqlite", gateway)
        with served(shop.api, shop.sock) as http:
            link = http.post(f"/invoices/{shop.invoice}/payment-link", headers=shop.me).json()
            gateway.settle(link["authority"])
            result = http.get(
                "/payments/callback", params={"Authority": link["authority"], "Status": "OK"}
            ).json()
            assert result["status"] == "paid"
            http.post("/admin/tick", headers=shop.admin)
        shop.engine.close()
    connection = sqlite3.connect(tmp_path / "cards.sqlite")
    tables = [
        r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    ]
    assert "stored_events" in tables and len(tables) > 5, tables  # events, read models, outbox
    for table in tables:
        for row in connection.execute(f"SELECT * FROM {table}"):
            text = " ".join(
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row
            )
            # The card's own digits and its hash, not a bare "5995": random ids and hashes in
            # other columns may well contain four such digits.
            assert (
                "502229" not in text
                and "******" not in text
                and CARD_HASH not in text
                and "card" not in text.lower()
            ), (table, text[:200])
    assert "502229" not in caplog.text and "card_hash" not in caplog.text


def test_sandbox_settles_as_the_tests_expect():
    with SandboxGateway() as gateway:
        client = httpx.Client(base_url=gateway.url)
        started = client.post(
            "/pg/v4/payment/request.json",
            json={
                "merchant_id": gateway.merchant_id,
                "amount": 20_000,
                "callback_url": "http://x/cb",
            },
        ).json()
        assert started["data"]["code"] == 100
        authority = started["data"]["authority"]
        assert len(authority) == 36 and authority.startswith("A")
        assert gateway.settle(authority)
        assert (
            client.post(
                "/pg/v4/payment/unVerified.json", json={"merchant_id": gateway.merchant_id}
            ).json()["data"]["authorities"][0]["authority"]
            == authority
        )
