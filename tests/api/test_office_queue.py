"""The back office's sign-in and its queue over real HTTP: sessions (cookie attributes, wrong
passwords, open redirects, idle timeout, sign-out, a disabled member), CSRF on every POST, who
may see and do what, and finance deciding requests and receipts from the queue, recorded in the
person's name. The browser tests (tests/pages/test_office_queue.py) drive the same pages."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import replace
from uuid import UUID

import pytest

from adapters.sandbox_gateway import SandboxGateway
from api.backoffice import signin
from domain.actor import recorded_actor
from tests.api.office import NAMES, PASSWORDS, add_staff, sign_in
from tests.api.server import served
from tests.api.shop import Shop
from tests.builders import a_png_slip


@pytest.fixture
def shop(tmp_path):
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/office.sqlite", gateway)
        shop.staff = add_staff(shop)
        yield shop
        shop.engine.close()


def pre_of(page: str) -> str:
    found = re.search(r'name="pre" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def offline_request(shop: Shop, http, reason: str = "We pay by transfer") -> str:
    asked = http.post(
        f"/invoices/{shop.invoice}/offline-requests", json={"reason": reason}, headers=shop.me
    )
    assert asked.status_code == 201, asked.text
    return asked.json()["id"]


def receipt(shop: Shop, http, tracking: str = "123456789012", amount: int = 2_750_000) -> str:
    """An offline request, approved by the API's finance token, and a receipt with a PNG scan."""
    request_id = offline_request(shop, http)
    approved = http.post(f"/offline-requests/{request_id}/approve", headers=shop.finance)
    assert approved.status_code == 200, approved.text
    registered = http.post(
        f"/invoices/{shop.invoice}/receipts",
        json={
            "bank": "017",
            "tracking_number": tracking,
            "amount": amount,
            "paid_on": "1405/02/18",
            "scan_base64": base64.b64encode(a_png_slip()).decode(),
        },
        headers=shop.me,
    )
    assert registered.status_code == 201, registered.text
    return registered.json()["id"]


def log_size(shop: Shop) -> int:
    return shop.api.state.context.app.recorder.max_notification_id() or 0


# --- signing in and out -------------------------------------------------------------------------


def test_a_page_without_a_session_leads_to_the_sign_in_form_and_back(shop):
    with served(shop.api, shop.sock) as http:
        answer = http.get("/office/queue?x=1", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/office/sign-in?next=/office/queue%3Fx%3D1"
        form = http.get(answer.headers["location"])
        assert form.status_code == 200
        assert 'lang="fa" dir="rtl"' in form.text
        assert 'name="next" value="/office/queue?x=1"' in form.text
        assert "default-src 'none'" in form.headers["content-security-policy"]
        assert form.headers["x-frame-options"] == "DENY"
        # The form's own double-submit value, in an HttpOnly cookie kept to the back office.
        cookie = form.headers["set-cookie"]
        assert "billing_office_signin=" in cookie and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie and "Path=/office" in cookie


def test_signing_in_sets_a_strict_http_only_session_cookie_and_opens_the_queue(shop):
    with served(shop.api, shop.sock) as http:
        email, password = PASSWORDS["finance"]
        pre = pre_of(http.get("/office/sign-in").text)
        answer = http.post(
            "/office/sign-in",
            data={"email": email, "password": password, "pre": pre, "next": "/office/queue"},
            follow_redirects=False,
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/office/queue"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("billing_office=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/office" in cookie
        assert "Secure" not in cookie  # served over plain HTTP here; Secure over HTTPS
        page = http.get("/office/queue")
        assert page.status_code == 200
        assert NAMES["finance"] in page.text and "(مالی)" in page.text
        # The session is a token of its own, listed with the others and in the member's name.
        tokens = http.get("/admin/tokens", headers=shop.admin).json()["items"]
        session = [t for t in tokens if t["label"] == "back-office session"]
        assert len(session) == 1 and session[0]["owner"]["name"] == NAMES["finance"]
        assert session[0]["expires_at"] is not None


def test_a_wrong_password_waits_and_says_so_without_telling_which_half(shop, monkeypatch):
    waited: list[float] = []

    async def recorded(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(signin, "pause", recorded)
    with served(shop.api, shop.sock) as http:
        email, _ = PASSWORDS["finance"]
        for who in (email, "nobody@office.example"):
            pre = pre_of(http.get("/office/sign-in").text)
            answer = http.post(
                "/office/sign-in",
                data={"email": who, "password": "not-the-password-1405", "pre": pre},
                follow_redirects=False,
            )
            assert answer.status_code == 401
            assert "نشانی ایمیل یا گذرواژه درست نیست" in answer.text
            assert "billing_office=" not in answer.headers.get("set-cookie", "")
        assert waited == [1.0, 1.0]  # BILLING_OFFICE_SIGNIN_DELAY, before each wrong answer


def test_the_sign_in_form_needs_its_own_value_and_leads_only_inside_the_back_office(shop):
    with served(shop.api, shop.sock) as http:
        email, password = PASSWORDS["finance"]
        # Without the form's value (a page elsewhere posting the form): refused.
        forged = http.post("/office/sign-in", data={"email": email, "password": password})
        assert forged.status_code == 403 and "billing_office=" not in str(forged.headers)
        for target in ("https://evil.example/", "//evil.example/office", "/docs", "/office\\x"):
            pre = pre_of(http.get("/office/sign-in").text)
            answer = http.post(
                "/office/sign-in",
                data={"email": email, "password": password, "pre": pre, "next": target},
                follow_redirects=False,
            )
            assert answer.headers["location"] == "/office", target


def test_customers_and_representatives_tokens_and_api_clients_open_no_page(shop):
    ctx = shop.api.state.context
    with served(shop.api, shop.sock) as http:
        rep = ctx.tokens.create("representative", ctx.now(), subject=shop.customer)
        client = ctx.tokens.create("finance", ctx.now(), label="a machine client")
        customer = shop.me["Authorization"].removeprefix("Bearer ")
        for token in (customer, rep, client):
            http.cookies.set("billing_office", token, path="/office")
            page = http.get("/office/queue", follow_redirects=False)
            assert page.status_code == 403, token
            assert "دسترسی ندارید" in page.text
            http.cookies.clear()
        # A bearer header is not a way in either: the back office reads only its cookie.
        page = http.get("/office/queue", headers=shop.finance, follow_redirects=False)
        assert page.status_code == 303


def test_sign_out_ends_the_session_everywhere(shop):
    with served(shop.api, shop.sock) as http:
        office = sign_in(http)
        token = http.cookies["billing_office"]
        refused = http.post("/office/sign-out", data={})  # no CSRF token
        assert refused.status_code == 403
        assert http.get("/office/queue", follow_redirects=False).status_code == 200
        out = office.post("/office/sign-out", follow_redirects=False)
        assert out.status_code == 303
        assert out.headers["location"] == "/office/sign-in?reason=signed_out"
        http.cookies.set("billing_office", token, path="/office")  # kept by an attacker
        again = http.get("/office/queue", follow_redirects=False)
        assert again.status_code == 303 and "reason=revoked" in again.headers["location"]


def test_an_idle_session_ends_and_asks_for_a_new_sign_in(shop):
    with served(shop.api, shop.sock) as http:
        sign_in(http)
        moved = http.post("/admin/clock/advance", json={"days": 30 / 1440}, headers=shop.admin)
        assert moved.status_code == 200, moved.text
        # 30 minutes idle is still inside BILLING_OFFICE_IDLE_MINUTES (30): the page answers.
        assert http.get("/office/queue", follow_redirects=False).status_code == 200
        http.post("/admin/clock/advance", json={"days": 31 / 1440}, headers=shop.admin)
        answer = http.get("/office/queue", follow_redirects=False)
        assert answer.status_code == 303 and "reason=idle" in answer.headers["location"]
        form = http.get(answer.headers["location"])
        assert "بی‌کاری" in form.text
        # The session itself was revoked: it does not come back after the idle check.
        assert http.get("/office/queue", follow_redirects=False).status_code == 303


def test_a_disabled_members_session_ends_at_once(shop):
    with served(shop.api, shop.sock) as http:
        sign_in(http)
        shop.api.state.context.app.disable_staff(
            shop.staff["finance"], "left the company", shop.api.state.context.now()
        )
        answer = http.get("/office/queue", follow_redirects=False)
        assert answer.status_code == 303 and "reason=owner_disabled" in answer.headers["location"]


def test_an_htmx_request_without_a_session_is_told_to_load_the_sign_in_page(shop):
    with served(shop.api, shop.sock) as http:
        answer = http.get("/office/queue", headers={"HX-Request": "true"})
        assert answer.status_code == 401
        assert answer.headers["HX-Redirect"].startswith("/office/sign-in")


# --- the queue ----------------------------------------------------------------------------------


def test_the_queue_lists_what_awaits_a_decision_oldest_first_with_its_detail(shop):
    with served(shop.api, shop.sock) as http:
        receipt_id = receipt(shop, http)
        office = sign_in(http)
        page = office.get("/office/queue")
        assert page.status_code == 200
        rows = re.findall(r'<tr id="row-([0-9a-f-]+)"', page.text)
        assert rows == [receipt_id]  # the approved request no longer waits; the receipt does
        assert "۲٬۷۵۰٬۰۰۰" in page.text  # rials, Persian digits and separator
        assert '<bdi dir="ltr" class="id">۱۲۳۴۵۶۷۸۹۰۱۲</bdi>' in page.text
        detail = office.get(f"/office/queue/items/{receipt_id}")
        assert detail.status_code == 200
        assert f'src="/office/receipts/{receipt_id}/scan"' in detail.text
        assert 'id="balance"' in detail.text and "تأیید رسید و ثبت پرداخت" in detail.text
        scan = office.get(f"/office/receipts/{receipt_id}/scan")
        assert scan.status_code == 200 and scan.headers["content-type"] == "image/png"
        assert scan.headers["content-security-policy"].startswith("sandbox")
        assert scan.headers["x-content-type-options"] == "nosniff"


def test_finance_confirms_a_receipt_from_the_queue_in_her_own_name(shop):
    with served(shop.api, shop.sock) as http:
        shop.suspend(http)
        receipt_id = receipt(shop, http)
        office = sign_in(http)
        before = log_size(shop)
        refused = http.post(
            f"/office/queue/items/{receipt_id}/confirm", headers={"HX-Request": "true"}
        )
        assert refused.status_code == 403 and log_size(shop) == before  # no CSRF token
        done = office.post(
            f"/office/queue/items/{receipt_id}/confirm", headers={"HX-Request": "true"}
        )
        assert done.status_code == 200, done.text
        assert "رسید تأیید و پرداخت ثبت شد" in done.text and "دوباره روشن شد" in done.text
        assert f'<tr id="row-{receipt_id}" hx-swap-oob="delete">' in done.text  # out of band
        assert shop.status(http) == "active"
        app = shop.api.state.context.app
        paid = [e for e in app.events.get(shop.invoice) if type(e).__name__ == "PaymentRecorded"]
        actor = recorded_actor(paid[-1])
        assert (actor.kind.value, actor.id, actor.name) == (
            "staff",
            str(shop.staff["finance"]),
            NAMES["finance"],
        )
        assert receipt_id not in office.get("/office/queue").text


def test_a_rejection_needs_a_reason_and_without_javascript_answers_the_queue_again(shop):
    with served(shop.api, shop.sock) as http:
        request_id = offline_request(shop, http)
        office = sign_in(http)
        form = office.get(f"/office/queue/items/{request_id}?reject=1")
        assert 'id="reject-form"' in form.text and "required" in form.text
        before = log_size(shop)
        blank = office.post(
            f"/office/queue/items/{request_id}/reject",
            {"reason": "   "},
            headers={"HX-Request": "true"},
        )
        assert blank.status_code == 422 and "دلیل را بنویسید" in blank.text
        assert log_size(shop) == before
        plain = office.post(f"/office/queue/items/{request_id}/reject", {"reason": "\x00"})
        assert plain.status_code == 422 and "انجام نشد" in plain.text  # a page, not JSON
        assert log_size(shop) == before
        done = office.post(
            f"/office/queue/items/{request_id}/reject",
            {"reason": "No transfer arrived"},
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == "/office/queue?done=rejected"
        item = http.get(f"/offline-payments?invoice_id={shop.invoice}", headers=shop.finance)
        (row,) = item.json()["items"]
        assert row["status"] == "rejected"
        assert row["detail"]["decision"] == "No transfer arrived"


def test_support_sees_the_queue_but_no_decision_and_cannot_post_one(shop):
    with served(shop.api, shop.sock) as http:
        request_id = offline_request(shop, http)
        office = sign_in(http, "support")
        page = office.get("/office/queue")
        assert request_id in page.text
        assert "/approve" not in page.text and 'data-row-key="a"' not in page.text
        detail = office.get(f"/office/queue/items/{request_id}")
        assert "پذیرش درخواست" not in detail.text and "reject-open" not in detail.text
        before = log_size(shop)
        refused = office.post(f"/office/queue/items/{request_id}/approve")
        assert refused.status_code == 403 and "decide offline payments" in refused.text
        assert log_size(shop) == before


def test_hostile_text_is_shown_as_text(shop):
    with served(shop.api, shop.sock) as http:
        offline_request(shop, http, reason="<script>alert(1)</script> & <b>bold</b>")
        app = shop.api.state.context.app
        profile = app.get_customer(shop.customer).profile
        app.change_profile(
            shop.customer,
            replace(profile, name='<img src=x onerror="alert(1)">'),
            shop.api.state.context.now(),
        )
        office = sign_in(http)
        page = office.get("/office/queue")
        assert "<img src=x" not in page.text and "&lt;img src=x" in page.text
        (item,) = re.findall(r'<tr id="row-([0-9a-f-]+)"', page.text)
        detail = office.get(f"/office/queue/items/{UUID(item)}")
        assert "<script>alert" not in detail.text and "&lt;script&gt;alert(1)" in detail.text


def test_the_queue_pages_oldest_first_and_counts_all_that_waits(shop, monkeypatch):
    from api.backoffice import queue
    from tests.builders import T0, a_company

    monkeypatch.setattr(queue, "LIMIT", 2)
    app = shop.api.state.context.app
    ids = []
    with served(shop.api, shop.sock) as http:
        for n in range(3):
            customer = app.register_customer(a_company(f"Co {n}"), T0)
            sub = app.start_subscription(customer, "business", "monthly", T0)
            invoice = app.get_subscription(sub).invoice_ids[0]
            now = shop.api.state.context.now()
            ids.append(str(app.request_offline_payment(invoice, "transfer", now)))
            http.post("/admin/clock/advance", json={"days": 1 / 1440}, headers=shop.admin)
        office = sign_in(http)
        first = office.get("/office/queue")
        assert re.findall(r'<tr id="row-([0-9a-f-]+)"', first.text) == ids[:2]
        assert "(۳ مورد در انتظار تصمیم)" in first.text
        link = re.search(r'id="next-page" href="([^"]+)"|href="([^"]+)" id="next-page"', first.text)
        assert link is not None
        second = office.get(html.unescape(link.group(1) or link.group(2)))
        assert re.findall(r'<tr id="row-([0-9a-f-]+)"', second.text) == ids[2:]
        assert 'id="next-page"' not in second.text
