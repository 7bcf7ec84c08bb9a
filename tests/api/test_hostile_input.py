"""Hostile input is normal input: each finding of the hostile-input review, as a request a client
could send and the answer it must get (docs/SECURITY.md). On SQLite; the fuzz suite
(test_schema_fuzz.py) runs every route on PostgreSQL too."""

from __future__ import annotations

import base64
import io
import json

import httpx
import pytest

from adapters.sandbox_gateway import SandboxGateway
from tests.api.server import bearer, reserve, served, url_of
from tests.api.shop import Shop
from tests.builders import DAY, T0, a_pdf_slip, a_png_slip


@pytest.fixture
def shop(tmp_path):
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/hostile.sqlite", gateway, gateway_timeout=1.0)
        with served(shop.api, shop.sock) as http:
            shop.http = http
            yield shop
        shop.engine.close()


def _events(shop) -> int:
    return shop.api.state.context.app.recorder.max_notification_id()


def _approved_offline(shop) -> None:
    http = shop.http
    request = http.post(
        f"/invoices/{shop.invoice}/offline-requests", json={"reason": "transfer"}, headers=shop.me
    )
    assert request.status_code == 201, request.text
    approved = http.post(f"/offline-requests/{request.json()['id']}/approve", headers=shop.finance)
    assert approved.status_code == 200, approved.text


def _receipt(shop, scan: bytes | None = None, **slip) -> httpx.Response:
    body = {"bank": "012", "tracking_number": "55556666", "amount": 1_000, "paid_on": "1405/01/20"}
    body |= slip
    if scan is not None:
        body["scan_base64"] = base64.b64encode(scan).decode()
    return shop.http.post(f"/invoices/{shop.invoice}/receipts", json=body, headers=shop.me)


# --- 1. a NUL byte (and every other control character) is refused before it is recorded -------


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\ud800", "\u0085"])
def test_a_control_character_in_a_profile_is_refused_naming_the_field(shop, bad):
    before = _events(shop)
    profile = {
        "name": f"Sara{bad}",
        "kind": "legal",
        "email": "finance@pars.example.ir",
        "mobile": "09351234567",
    }
    answer = shop.http.put(  # JSON escapes half a surrogate pair as \ud800: it can be sent
        f"/customers/{shop.customer}/profile",
        content=json.dumps(profile),
        headers=shop.me | {"Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "invalid_request"
    assert problem["errors"][0]["field"] == "name"
    if bad != "\ud800":  # the JSON reader itself refuses half a surrogate pair, in its words
        assert f"U+{ord(bad):04X}" in problem["detail"]
    assert _events(shop) == before  # nothing recorded
    assert shop.http.get("/customers", headers=shop.admin).status_code == 200


def test_a_nul_in_a_token_label_is_refused_not_a_server_error(shop):
    answer = shop.http.post(
        "/admin/tokens", json={"role": "finance", "label": "ops\x00"}, headers=shop.admin
    )
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "label"


def test_zwnj_is_kept_in_a_persian_name_and_invisible_characters_are_dropped(shop):
    profile = {
        "name": "شرکت\u200cهای \u202eپارس",
        "kind": "legal",
        "email": "\u200bfinance@pars.example.ir",
        "mobile": "۰۹۳۵۱۲۳۴۵۶۷",
    }
    answer = shop.http.put(f"/customers/{shop.customer}/profile", json=profile, headers=shop.me)
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "شرکت\u200cهای پارس"
    assert (answer.json()["email"], answer.json()["mobile"]) == (
        "finance@pars.example.ir",
        "09351234567",
    )


# --- 3. explain answers for any id -------------------------------------------------------------


def test_explain_answers_for_an_invoice_a_customer_and_404_for_an_unknown_id(shop):
    http = shop.http
    for aggregate_id, says in (
        (shop.invoice, "Invoice"),
        (shop.customer, "Customer"),
        (shop.subscription, "Subscription"),
    ):
        answer = http.get(f"/audit/{aggregate_id}/explain", headers=shop.finance)
        assert answer.status_code == 200, answer.text
        assert answer.json()["english"].startswith(says) and answer.json()["persian"]
    unknown = http.get("/audit/00000000-0000-4000-8000-000000000000/explain", headers=shop.finance)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert "No events are stored" in unknown.json()["detail"]


# --- 4. a receipt names a bank by code, and flags a possible duplicate --------------------------


def test_banks_are_listed_and_a_receipt_shows_its_bank_and_possible_duplicates(shop):
    http = shop.http
    banks = http.get("/banks", headers=shop.me).json()["items"]
    assert {"code": "012", "name_fa": "بانک ملت", "name_en": "Bank Mellat"}.items() <= (
        next(b for b in banks if b["code"] == "012").items()
    )
    _approved_offline(shop)
    first = _receipt(shop, tracking_number="9988 7766 5544")
    assert first.status_code == 201, first.text
    for bank, number in (("12", "9988-7766-5544"), ("012", "\u200f۹۹۸۸۷۷۶۶۵۵۴۴")):
        again = _receipt(shop, bank=bank, tracking_number=number)
        assert again.status_code == 409 and again.json()["code"] == "tracking_number_used"
    named = _receipt(shop, bank="Bank Mellat", tracking_number="1234567")
    assert named.status_code == 422 and named.json()["field"] == "bank"
    elsewhere = _receipt(shop, bank="017", tracking_number="998877665544")
    assert elsewhere.status_code == 201, elsewhere.text
    queue = http.get("/offline-payments?kind=receipt", headers=shop.finance).json()["items"]
    by_id = {item["id"]: item["detail"] for item in queue}
    assert by_id[first.json()["id"]]["bank_name_en"] == "Bank Mellat"
    assert by_id[elsewhere.json()["id"]]["possible_duplicates"] == [first.json()["id"]]
    assert by_id[elsewhere.json()["id"]]["bank_name_fa"] == "بانک ملی ایران"


# --- 5. a discount is two decimals below 100 %, a price never rounds to 0 -----------------------


@pytest.mark.parametrize("discount", [99.9999999, 12.3456789, 100, 150])
def test_a_discount_that_would_be_rounded_is_refused_quoting_the_value_sent(shop, discount):
    plan = {
        "id": "tiny",
        "name": "Tiny",
        "monthly_price": 1_000_000,
        "quarterly_discount_percent": discount,
    }
    answer = shop.http.post("/plans", json=plan, headers=shop.admin)
    assert answer.status_code == 422, answer.text
    assert f"got {discount!r}" in answer.json()["detail"]
    assert "tiny" not in [
        p["id"] for p in shop.http.get("/plans", headers=shop.admin).json()["items"]
    ]


def test_a_plan_whose_period_price_rounds_to_zero_is_refused(shop):
    plan = {"id": "free", "name": "Free", "monthly_price": 1, "yearly_discount_percent": 99.99}
    answer = shop.http.post("/plans", json=plan, headers=shop.admin)
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_plan"
    assert "rounds to 0 rials" in answer.json()["detail"]
    good = dict(plan, id="cheap", monthly_price=1_000_000, yearly_discount_percent=12.5)
    created = shop.http.post("/plans", json=good, headers=shop.admin)
    assert created.json()["periods"]["yearly"]["discount_percent"] == 12.5


# --- 6. a scan is checked by decoding it and served so it cannot run ---------------------------


def test_a_png_header_followed_by_html_and_a_pdf_with_javascript_are_refused(shop):
    _approved_offline(shop)
    polyglot = a_png_slip()[:33] + b"<html><script>alert(document.cookie)</script></html>"
    appended = a_png_slip() + b"<html><script>alert(1)</script></html>"
    for bad in (polyglot, appended, _pdf_with(b"/JavaScript"), _pdf_with(b"/Launch"), b"<svg/>"):
        before = _events(shop)
        answer = _receipt(shop, scan=bad, tracking_number="12121212")
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "scan_base64"
        assert _events(shop) == before


def test_a_scan_is_served_as_data_under_a_safe_name(shop):
    _approved_offline(shop)
    for scan, kind, disposition in (
        (a_png_slip(), "image/png", "inline"),
        (a_pdf_slip(), "application/pdf", "attachment"),
    ):
        receipt = _receipt(shop, scan=scan, tracking_number=f"3434{len(scan)}")
        assert receipt.status_code == 201, receipt.text
        receipt_id = receipt.json()["id"]
        got = shop.http.get(f"/receipts/{receipt_id}/scan", headers=shop.finance)
        assert got.content == scan and got.headers["content-type"] == kind
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"].startswith("sandbox")
        extension = "png" if kind == "image/png" else "pdf"
        assert got.headers["content-disposition"] == (
            f'{disposition}; filename="receipt-{receipt_id}.{extension}"'
        )


def _pdf_with(action: bytes) -> bytes:
    """A PDF whose document opens with an action of this kind (hex-obfuscated names too)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(a_pdf_slip())))
    key = "/JS" if action == b"/JavaScript" else "/F"
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject(
        {
            NameObject("/S"): NameObject(action.decode()),
            NameObject(key): TextStringObject("app.alert(1)"),
        }
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue().replace(b"/JavaScript", b"/J#61vaScript")


def test_every_page_the_engine_serves_sends_security_headers(shop):
    http = shop.http
    link = http.post(f"/invoices/{shop.invoice}/payment-link", headers=shop.me).json()
    page = httpx.get(
        f"{shop.base}/payments/callback?Authority={link['authority']}&Status=NOK",
        headers={"Accept": "text/html"},
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    docs = http.get("/docs")
    assert (
        docs.status_code == 200 and "script-src 'self'" in docs.headers["content-security-policy"]
    )
    assert "cdn" not in docs.text.lower() and "http" not in docs.text.split("<body>")[1]
    for asset in ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/docs.js"):
        assert http.get(asset).status_code == 200
    assert http.get("/plans", headers=shop.me).headers["x-content-type-options"] == "nosniff"


# --- 9. the smaller findings ------------------------------------------------------------------


def test_malformed_json_is_400_malformed_body_as_documented(shop):
    answer = shop.http.post(
        "/customers",
        content=b'{"name": "Sara",',
        headers=shop.admin | {"Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and answer.json()["code"] == "malformed_body"


def test_a_customer_list_shows_the_same_open_balance_as_the_customer(shop):
    one = shop.http.get(f"/customers/{shop.customer}", headers=shop.admin).json()
    (listed,) = shop.http.get("/customers", headers=shop.admin).json()["items"]
    assert listed["open_balance"] == one["open_balance"] == 2_750_000


def test_the_clock_and_the_tick_both_answer_a_list_of_failures(shop):
    advanced = shop.http.post("/admin/clock/advance", json={"days": 1}, headers=shop.admin)
    ticked = shop.http.post("/admin/tick", headers=shop.admin)
    assert advanced.json()["failed"] == [] == ticked.json()["failed"]


def test_lifting_a_hold_needs_a_reason_that_is_not_blank(shop):
    until = (T0 + 60 * DAY).isoformat()
    hold = {"reason": "dispute", "until": until}
    assert (
        shop.http.post(
            f"/subscriptions/{shop.subscription}/enforcement-hold", json=hold, headers=shop.finance
        ).status_code
        == 200
    )
    for blank in ("   ", "\u200b", "\n\n"):
        lifted = shop.http.post(
            f"/subscriptions/{shop.subscription}/enforcement-hold/lift",
            json={"reason": blank},
            headers=shop.finance,
        )
        assert lifted.status_code == 422 and lifted.json()["errors"][0]["field"] == "reason"


def test_the_openapi_document_declares_the_bearer_scheme_and_the_idempotency_key(shop):
    document = shop.http.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["paths"]["/healthz"]["get"]["security"] == []
    order = document["paths"]["/subscriptions"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in order["parameters"]]


def test_an_idempotency_key_on_a_method_the_route_does_not_serve_is_405(tmp_path):
    sock = reserve()
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/key.sqlite", gateway)
        shop.sock, shop.base = sock, url_of(sock)
        with served(shop.api, sock) as http:
            answer = http.put(
                "/customers", json={}, headers=shop.admin | {"Idempotency-Key": "k-1"}
            )
            assert answer.status_code == 405
        shop.engine.close()
    assert bearer("x") == {"Authorization": "Bearer x"}
