"""The back office's search and customer pages over real HTTP (docs/BACKOFFICE.md, "Search" and
"Customer"): what a search finds however it is typed, what the customer page shows, the scan
and PDF downloads for the session, issuing an official invoice (finance may, support may not,
never without the CSRF token), and hostile text shown as text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from adapters.sandbox_gateway import SandboxGateway
from domain.customer import BillingProfile
from tests.api.office import PASSWORDS, SignedIn, add_staff
from tests.api.server import served
from tests.api.shop import Shop
from tests.builders import SELLER, T0, a_png_slip

NATIONAL_CODE = "0013542419"


@pytest.fixture
def shop(tmp_path):
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/office.sqlite", gateway)
        add_staff(shop)
        app = shop.api.state.context.app
        shop.ali = app.register_customer(
            BillingProfile(
                name="علی کریمی‌نژاد",
                kind="person",
                email="ali@example.ir",
                mobile="09123456789",
                national_code=NATIONAL_CODE,
            ),
            T0,
        )
        app.start_subscription(shop.ali, "business", "monthly", T0)
        yield shop
        shop.engine.close()


_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


def sign_in(http: httpx.Client, role: str) -> SignedIn:
    """Sign in through the form, landing on the search page."""
    email, password = PASSWORDS[role]
    form = http.get("/office/sign-in")
    pre = re.search(r'name="pre" value="([^"]+)"', form.text)
    assert pre is not None
    answer = http.post(
        "/office/sign-in",
        data={"email": email, "password": password, "pre": pre.group(1), "next": "/office/search"},
    )
    assert answer.status_code == 303, answer.text
    page = http.get("/office/search")
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found is not None
    return SignedIn(http, found.group(1))


@contextmanager
def office(shop: Shop, role: str = "finance") -> Iterator[SignedIn]:
    with served(shop.api, shop.sock) as http:
        yield sign_in(http, role)


def found_names(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return re.findall(
        r'<a href="/office/customers/[0-9a-f-]+" data-row-key="o">([^<]*)</a>', page.text
    )


def test_a_search_finds_a_customer_however_the_name_or_number_is_typed(shop):
    with office(shop) as staff:
        for typed in (
            "علي",  # Arabic yeh
            "كريمي",  # Arabic kaf and yeh
            "کریمی‌نژاد",  # with the zero-width non-joiner
            "کریمینژاد",  # without it
            "کریمی نژاد",  # with a space in its place
            "كريمي علي",  # two words, in any order
            "کری",  # a prefix
            "۰۰۱۳۵۴۲۴۱۹",  # the national code in Persian digits
            "٠٠١٣٥٤٢٤١٩",  # and in Arabic-Indic digits
            "001-354241-9",  # with hyphens
            "۰۹۱۲ ۳۴۵ ۶۷۸۹",  # the mobile, in groups
            "+98 912 345 6789",
            "9123456789",
            "ALI@example.IR",
        ):
            page = staff.get("/office/search", params={"q": typed})
            assert found_names(page) == ["علی کریمی‌نژاد"], typed
        assert found_names(staff.get("/office/search", params={"q": "علی پارس"})) == []
        none = staff.get("/office/search", params={"q": "زهرا"})
        assert "پیدا نشد" in none.text


def test_a_search_finds_a_customer_by_invoice_tracking_and_official_number(shop):
    app = shop.api.state.context.app
    app.seller = SELLER
    with office(shop) as staff:
        http = staff.http
        by_invoice = staff.get("/office/search", params={"q": str(shop.invoice)})
        assert found_names(by_invoice) == ["Pars Co"]
        assert "شمارهٔ صورتحساب" in by_invoice.text
        assert found_names(staff.get("/office/search", params={"q": str(shop.invoice)[:8]})) == [
            "Pars Co"
        ]
        assert found_names(staff.get("/office/search", params={"q": "411111111111"})) == ["Pars Co"]
        assert found_names(staff.get("/office/search", params={"q": "۱۰۳۸۰۲۸۴۷۹۰"})) == ["Pars Co"]

        http.post(
            f"/invoices/{shop.invoice}/offline-requests",
            json={"reason": "پرداخت از حساب شرکت"},
            headers=shop.me,
        )
        request_id = http.get(
            "/offline-payments", params={"awaiting_decision": "true"}, headers=shop.finance
        ).json()["items"][0]["id"]
        approved = http.post(f"/offline-requests/{request_id}/approve", headers=shop.finance)
        assert approved.status_code == 200, approved.text
        receipt = shop.mellat_receipt(http, "9988 7766 5544", 2_750_000)
        by_tracking = staff.get("/office/search", params={"q": "۹۹۸۸-۷۷۶۶-۵۵۴۴"})
        assert found_names(by_tracking) == ["Pars Co"]
        assert "شمارهٔ پیگیری رسید" in by_tracking.text
        assert f"#invoice-{shop.invoice}" in by_tracking.text

        confirmed = http.post(f"/receipts/{receipt['id']}/confirm", headers=shop.finance)
        assert confirmed.status_code == 200, confirmed.text
        number = http.get(f"/invoices/{shop.invoice}", headers=shop.me).json()["official_number"]
        assert number == "1405-000001"
        for typed in ("1405-000001", "۱۴۰۵-۰۰۰۰۰۱", "14051"):
            assert found_names(staff.get("/office/search", params={"q": typed})) == ["Pars Co"]


def test_a_search_shows_hostile_text_as_text_and_support_may_search(shop):
    app = shop.api.state.context.app
    app.register_customer(
        BillingProfile(
            name='<script>alert("x")</script> رضا',
            kind="person",
            email="reza@example.ir",
            mobile="09120000000",
        ),
        T0,
    )
    with office(shop, "support") as staff:
        page = staff.get("/office/search", params={"q": "رضا"})
        assert found_names(page) == ["&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; رضا"]
        assert "<script>alert" not in page.text
        fragment = staff.get(
            "/office/search",
            params={"q": "رضا"},
            headers={"HX-Request": "true", "HX-Target": "results"},
        )
        assert "<html" not in fragment.text and "data-row" in fragment.text
        control = staff.get("/office/search", params={"q": "رضا\x07"})
        assert control.status_code == 200 and "متن جستجو پذیرفته نشد" in control.text
        assert "data-row" not in control.text


def test_a_search_needs_a_staff_session(shop):
    with served(shop.api, shop.sock) as http:
        away = http.get("/office/search", params={"q": "علی"})
        assert away.status_code == 303
        assert away.headers["location"].startswith("/office/sign-in")
        token = shop.me["Authorization"].removeprefix("Bearer ")
        http.cookies.set("billing_office", token, path="/office")
        assert http.get("/office/search", params={"q": "علی"}).status_code == 403
        assert http.get(f"/office/customers/{shop.customer}").status_code == 403


def test_the_customer_page_shows_profile_subscriptions_invoices_receipts_and_notices(shop):
    with office(shop) as staff:
        http = staff.http
        shop.engine.tick()
        http.post(
            f"/invoices/{shop.invoice}/offline-requests",
            json={"reason": "پرداخت از حساب شرکت"},
            headers=shop.me,
        )
        request_id = http.get(
            "/offline-payments", params={"awaiting_decision": "true"}, headers=shop.finance
        ).json()["items"][0]["id"]
        http.post(f"/offline-requests/{request_id}/approve", headers=shop.finance)
        registered = http.post(
            f"/invoices/{shop.invoice}/receipts",
            data={
                "bank": "012",
                "tracking_number": "1234-5678",
                "amount": "2750000",
                "paid_on": "1405/02/01",
            },
            files={"scan": ("slip.png", a_png_slip(), "image/png")},
            headers=shop.me,
        )
        assert registered.status_code == 201, registered.text
        receipt_id = registered.json()["id"]

        page = staff.get(f"/office/customers/{shop.customer}")
        assert page.status_code == 200, page.text
        text = page.text
        assert "Pars Co" in text and "حقوقی" in text
        assert '<bdi dir="ltr" class="id">۴۱۱۱۱۱۱۱۱۱۱۱</bdi>' in text  # economic code
        assert f'/office/subscriptions/{shop.subscription}"' in text
        assert f'id="invoice-{shop.invoice}"' in text
        assert "پرداخت‌نشده" in text
        assert '<bdi dir="ltr" class="num">۲٬۷۵۰٬۰۰۰</bdi>' in text
        assert re.search(r'<time datetime="[^"]+"><bdi dir="ltr">۱۴۰۵/', text)  # a Jalali deadline
        assert "۱۲۳۴۵۶۷۸" in text and "در حال بررسی" in text
        assert f"/office/receipts/{receipt_id}/scan" in text
        assert "ارسال صورتحساب" in text  # the invoice_issued notice, in Persian
        assert "پیگیری" in text

        scan = staff.get(f"/office/receipts/{receipt_id}/scan")
        assert scan.status_code == 200
        assert scan.headers["content-type"] == "image/png"
        assert scan.headers["x-content-type-options"] == "nosniff"
        assert scan.headers["content-security-policy"] == "sandbox; default-src 'none'"
        assert scan.content == a_png_slip()
        pdf = staff.get(f"/office/invoices/{shop.invoice}/invoice.pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"

        unknown = staff.get("/office/customers/00000000-0000-4000-8000-000000000000")
        assert unknown.status_code == 404 and "پیدا نشد" in unknown.text


def test_an_official_invoice_is_issued_from_the_page_once_the_profile_is_complete(shop):
    ctx = shop.api.state.context
    app = ctx.app
    app.seller = SELLER
    with office(shop) as staff:
        http = staff.http
        incomplete = BillingProfile(
            name="Pars Co",
            kind="legal",
            email="finance@pars.example.ir",
            mobile="09351234567",
            economic_code="411111111111",
            national_id="10380284790",
        )
        app.change_profile(shop.customer, incomplete, T0)
        paid = http.post(
            f"/invoices/{shop.invoice}/payments",
            json={"reference": "BANK-7", "amount": 2_750_000},
            headers=shop.finance,
        )
        assert paid.status_code == 200, paid.text
        page = staff.get(f"/office/customers/{shop.customer}").text
        assert "کد پستی" in page and "نشانی" in page  # what is missing, named
        assert "issue-official" not in page

        complete = app.get_customer(shop.customer).profile.to_dict() | {
            "postal_code": "1193653471",
            "address": "تهران، خیابان ولیعصر",
        }
        app.change_profile(shop.customer, BillingProfile(**complete), T0)
        page = staff.get(f"/office/customers/{shop.customer}").text
        assert f'action="/office/invoices/{shop.invoice}/official"' in page

        with httpx.Client(base_url=http.base_url, timeout=30) as other:  # a second person
            support = sign_in(other, "support")
            assert "issue-official" not in support.get(f"/office/customers/{shop.customer}").text
            refused = support.post(f"/office/invoices/{shop.invoice}/official")
            assert refused.status_code == 403

        no_csrf = http.post(f"/office/invoices/{shop.invoice}/official", data={})
        assert no_csrf.status_code == 403
        assert app.get_invoice(shop.invoice).official is None

        issued = staff.post(f"/office/invoices/{shop.invoice}/official")
        assert issued.status_code == 303, issued.text
        shown = http.get(issued.headers["location"])
        assert 'صورتحساب رسمی <bdi dir="ltr" class="id">۱۴۰۵-۰۰۰۰۰۱</bdi> صادر شد' in shown.text
        assert f"/office/invoices/{shop.invoice}/official.pdf" in shown.text
        pdf = staff.get(f"/office/invoices/{shop.invoice}/official.pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        audit = app.get_invoice(shop.invoice)
        assert audit.official is not None and audit.official.number == 1
