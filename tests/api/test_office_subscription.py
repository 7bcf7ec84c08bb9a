"""The back office's subscription page over real HTTP (docs/BACKOFFICE.md, "Subscription"): the
state, next step, explanation and timeline with each actor; *as of* a typed Jalali moment;
finance's actions, each a confirmation step first and then the command as the signed-in person;
support sees no action and is refused one; a POST without the CSRF token is refused; hostile
text is escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest

from adapters.sandbox_gateway import SandboxGateway
from domain.jalali import format_moment, parse_moment
from service_layer.timeline import timeline
from tests.api.office import PASSWORDS, SignedIn, add_staff
from tests.api.server import served
from tests.api.shop import Shop
from tests.builders import DAY, T0

_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


@pytest.fixture
def shop(tmp_path):
    with SandboxGateway() as gateway:
        shop = Shop(
            f"sqlite:///{tmp_path}/office.sqlite",
            gateway,
            office_signin_delay=0,
            four_eyes=True,
            four_eyes_void_above=1_000_000,
        )
        add_staff(shop)
        yield shop
        shop.engine.close()


def page_of(shop: Shop) -> str:
    return f"/office/subscriptions/{shop.subscription}"


def signed_in(http: httpx.Client, role: str, page: str) -> SignedIn:
    """Sign in through the form straight to ``page`` (tests/api/office.py signs in to the queue)."""
    email, password = PASSWORDS[role]
    form = http.get(f"/office/sign-in?next={page}")
    pre = re.search(r'name="pre" value="([^"]+)"', form.text)
    assert pre is not None
    answer = http.post(
        "/office/sign-in",
        data={"email": email, "password": password, "pre": pre.group(1), "next": page},
    )
    assert answer.status_code == 303, answer.text
    opened = http.get(answer.headers["location"])
    assert opened.status_code == 200, opened.text
    found = _CSRF.search(opened.text)
    assert found is not None
    return SignedIn(http, found.group(1))


@contextmanager
def office_page(shop: Shop, role: str = "finance") -> Iterator[SignedIn]:
    with served(shop.api, shop.sock) as http:
        yield signed_in(http, role, page_of(shop))


def text_of(page: str) -> str:
    """The page's words without markup, entities decoded, digits as on screen."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def fa(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


def advance(shop: Shop, http: httpx.Client, days: int) -> None:
    moved = http.post("/admin/clock/advance", json={"days": days}, headers=shop.admin)
    assert moved.status_code == 200, moved.text


# --- reading ------------------------------------------------------------------------------------


def test_the_page_shows_state_next_step_explanation_invoices_and_the_timeline(shop):
    with office_page(shop) as office:
        page = office.get(page_of(shop))
        assert page.status_code == 200
        assert '<html lang="fa" dir="rtl">' in page.text
        words = text_of(page.text)
        assert "فعال" in words  # the status
        assert "یادآوری پرداخت فرستاده می‌شود" in words  # the next step, in Persian
        assert "Pars Co" in words
        # The first invoice: 2,500,000 a month and VAT, in Persian digits with ٬.
        invoice = shop.api.state.context.app.get_invoice(shop.invoice)
        assert fa(f"{invoice.total.rials:,}".replace(",", "٬")) in words
        # The timeline names who did each thing; the explanation is the audit's own.
        assert "صورتحساب" in words and "اشتراک" in words
        assert 'id="timeline"' in page.text and 'id="explanation"' in page.text


def test_an_unknown_id_is_a_404_page(shop):
    with office_page(shop) as office:
        assert office.get(f"/office/subscriptions/{shop.customer}").status_code == 404
        assert office.get("/office/subscriptions/not-an-id").status_code == 422


def test_as_of_a_typed_jalali_moment_before_the_suspension_shows_the_state_then(shop):
    with served(shop.api, shop.sock) as http:
        shop.suspend(http)  # 34 days on: a session opened before would have timed out
        office = signed_in(http, "finance", page_of(shop))
        # T0 is 1405/01/15 09:00 in Tehran; five days later the site was active and up.
        before = "۱۴۰۵/۰۱/۲۰ ۰۹:۰۰"
        assert parse_moment(before) == T0 + 5 * DAY
        page = office.get(page_of(shop), params={"at": before})
        assert page.status_code == 200
        now_part, _, as_of_part = text_of(page.text).partition("وضعیت در یک زمان گذشته")
        assert "معلق" in now_part  # suspended now
        as_of_status = re.search(r'id="as-of-status">([^<]+)<', page.text)
        assert as_of_status is not None and as_of_status.group(1) == "فعال"
        assert re.search(r'id="as-of-site">در دسترس<', page.text)
        assert "۱۴۰۵/۰۱/۲۰ ۰۹:۰۰" in as_of_part
        # The timeline marks what was recorded after that moment (the suspension among it).
        assert 'class="after"' in page.text
        # Latin digits and a date alone (its 00:00) read the same way.
        latin = office.get(page_of(shop), params={"at": "1405/01/20"})
        assert 'id="as-of-status">فعال<' in latin.text


#: What *as of* cannot answer, and what it says instead.
AS_OF_REFUSED = (
    ("1405/13/01 09:00", "به شکل"),
    ("tomorrow", "به شکل"),
    ("1405/01/01 09:00", "هنوز ثبت نشده"),  # before the subscription existed
    ("1406/01/01 09:00", "هنوز نرسیده"),  # the future
)


def test_as_of_refuses_what_it_cannot_answer_in_words(shop):
    with office_page(shop) as office:
        for typed, said in AS_OF_REFUSED:
            page = office.get(page_of(shop), params={"at": typed})
            assert page.status_code == 200
            error = re.search(r'id="at-error"[^>]*>([^<]+)<', page.text)
            assert error is not None and said in error.group(1), typed
            assert 'aria-invalid="true"' in page.text


# --- acting: a confirmation step, then the command as the signed-in person ---------------------


def test_a_hold_is_confirmed_first_then_placed_by_the_signed_in_person(shop):
    with office_page(shop) as office:
        app = shop.api.state.context.app
        until = format_moment(T0 + 20 * DAY, persian_digits=True)
        asked = office.post(
            f"{page_of(shop)}/hold", {"until": until, "reason": "دادگاه <b>رسیدگی</b> می‌کند"}
        )
        assert asked.status_code == 200
        assert "آیا مطمئن هستید" in asked.text
        assert "&lt;b&gt;رسیدگی&lt;/b&gt;" in asked.text and "<b>رسیدگی" not in asked.text
        assert app.get_subscription(shop.subscription).hold is None  # nothing done yet
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', asked.text))
        assert fields["confirm"] == "1" and fields["until"] == format_moment(T0 + 20 * DAY)

        done = office.post(
            f"{page_of(shop)}/hold", {k: html.unescape(v) for k, v in fields.items()}
        )
        assert done.status_code == 303
        assert done.headers["location"] == f"{page_of(shop)}?done=hold"
        hold = app.get_subscription(shop.subscription).hold
        assert hold is not None and hold.until == T0 + 20 * DAY
        assert hold.reason == "دادگاه <b>رسیدگی</b> می‌کند"
        placed = [e for e in timeline(app, shop.subscription) if e.event == "EnforcementHoldPlaced"]
        assert placed[-1].actor.name == "مریم کریمی"
        page = office.get(done.headers["location"])
        assert "توقف پیگیری ثبت شد" in page.text and "data-focus" in page.text
        assert "مریم کریمی" in text_of(page.text)  # the timeline names her
        assert "<b>رسیدگی" not in page.text


def test_with_htmx_the_confirmation_and_the_result_are_fragments_with_focus(shop):
    with office_page(shop) as office:
        hx = {"HX-Request": "true"}
        asked = office.post(
            f"{page_of(shop)}/hold",
            {"until": "1405/02/05 10:00", "reason": "بررسی"},
            headers=hx,
        )
        assert asked.status_code == 200 and "<html" not in asked.text
        assert "data-focus" in asked.text
        done = office.post(
            f"{page_of(shop)}/hold",
            {"until": "1405/02/05 10:00", "reason": "بررسی", "confirm": "1"},
            headers=hx,
        )
        assert done.status_code == 200 and "<html" not in done.text
        assert re.search(r'id="done"[^>]*data-focus', done.text)
        assert 'id="lift-form"' in done.text  # a hold in force can be lifted

        lifted = office.post(
            f"{page_of(shop)}/hold/lift", {"reason": "رأی صادر شد", "confirm": "1"}, headers=hx
        )
        assert lifted.status_code == 200 and "توقف پیگیری برداشته شد" in lifted.text
        assert shop.api.state.context.app.get_subscription(shop.subscription).hold is None


#: Holds the engine refuses: no reason, an end it cannot read, an end in the past.
HOLDS_REFUSED = (
    ({"until": "1405/02/05 10:00", "reason": ""}, "دلیل را بنویسید"),
    ({"until": "fifth of May", "reason": "x"}, "پایان توقف را"),
    ({"until": "1405/01/10 10:00", "reason": "x"}, "پایان توقف را"),
)


def test_a_hold_the_engine_refuses_says_why_and_records_nothing(shop):
    with office_page(shop) as office:
        for fields, said in HOLDS_REFUSED:
            answer = office.post(f"{page_of(shop)}/hold", {**fields, "confirm": "1"})
            assert answer.status_code == 422, fields
            assert "انجام نشد" in answer.text and "invalid_input" in answer.text
            assert said in answer.text
            assert re.search(r'id="refused"[^>]*data-focus', answer.text)
        assert shop.api.state.context.app.get_subscription(shop.subscription).hold is None


def test_a_void_above_the_four_eyes_amount_is_only_proposed_then_a_second_person_voids(shop):
    app = shop.api.state.context.app
    with office_page(shop) as office:
        path = f"{page_of(shop)}/invoices/{shop.invoice}/void"
        asked = office.post(path, {"reason": "صادرشده به اشتباه"})
        assert "فقط «پیشنهاد» می‌شود" in asked.text
        proposed = office.post(path, {"reason": "صادرشده به اشتباه", "confirm": "1"})
        assert proposed.headers["location"].endswith("?done=void-proposed")
        assert app.get_invoice(shop.invoice).is_open
        page = office.get(proposed.headers["location"])
        assert "ابطال پیشنهاد شده توسط مریم کریمی" in text_of(page.text)
        # The same person cannot carry it out.
        again = office.post(path, {"reason": "صادرشده به اشتباه", "confirm": "1"})
        assert again.status_code == 409 and "four_eyes_required" in again.text
        assert "کارمند دیگری باید تأیید کند" in again.text
        assert app.get_invoice(shop.invoice).is_open
        with httpx.Client(base_url=shop.base, timeout=30) as other:
            admin = signed_in(other, "admin", page_of(shop))
            asked = admin.post(path, {"reason": "تأیید ابطال"})
            assert "تأیید شما (نفر دوم)" in asked.text
            done = admin.post(path, {"reason": "تأیید ابطال", "confirm": "1"})
            assert done.headers["location"].endswith("?done=void")
        assert app.get_invoice(shop.invoice).is_void


def test_a_plan_change_is_confirmed_then_takes_effect_from_the_next_period(shop):
    from tests.builders import a_plan

    app = shop.api.state.context.app
    app.define_plan(a_plan("pro", 4_000_000), T0)
    with office_page(shop) as office:
        path = f"{page_of(shop)}/plan"
        asked = office.post(path, {"plan_id": "pro", "period": "yearly"})
        assert "آیا مطمئن هستید" in asked.text and "از دورهٔ بعد" in asked.text
        assert app.get_subscription(shop.subscription).pending_change is None
        done = office.post(path, {"plan_id": "pro", "period": "yearly", "confirm": "1"})
        assert done.status_code == 303
        pending = app.get_subscription(shop.subscription).pending_change
        assert pending is not None and (pending[0].id, pending[1].value) == ("pro", "yearly")
        assert office.post(path, {"plan_id": "nope", "period": "yearly"}).status_code == 422


def test_an_upgrade_is_confirmed_with_its_prorated_difference_then_in_force_at_once(shop):
    from tests.builders import a_plan

    app = shop.api.state.context.app
    app.define_plan(a_plan("pro", 4_000_000), T0)
    with served(shop.api, shop.sock) as http:
        advance(shop, http, 9)  # day 10 of the shop's first period (Farvardin: 31 days)
        office = signed_in(http, "finance", page_of(shop))  # (idle sessions end: sign in after)
        path = f"{page_of(shop)}/plan"
        asked = office.post(path, {"plan_id": "pro", "period": "monthly"})
        text = text_of(asked.text)
        assert "همین حالا" in text and fa("21 از 31") in text
        # (4,000,000 − 2,500,000) × 21/31 = 1,016,129.03…, rounded half up to the rial.
        assert fa("1,016,129").replace(",", "٬") in text
        assert app.get_subscription(shop.subscription).plan.id == "business"  # nothing yet
        done = office.post(
            path, {"plan_id": "pro", "period": "monthly", "when": "now", "confirm": "1"}
        )
        assert done.status_code == 303 and "done=plan-now" in done.headers["location"]
        sub = app.get_subscription(shop.subscription)
        assert sub.plan.id == "pro" and len(sub.invoice_ids) == 2
        # Asked at once for what is not an upgrade: refused with the engine's reason.
        refused = office.post(
            path, {"plan_id": "business", "period": "monthly", "when": "now", "confirm": "1"}
        )
        assert refused.status_code == 409 and "immediate_plan_change_refused" in refused.text


# --- who may do what ----------------------------------------------------------------------------


def test_support_reads_the_page_but_sees_no_action_and_is_refused_one(shop):
    with served(shop.api, shop.sock) as http:
        support = signed_in(http, "support", page_of(shop))
        page = support.get(page_of(shop))
        assert page.status_code == 200
        for form in ("hold-form", "plan-form", "lift-form", "/void"):
            assert form not in page.text
        for path, fields in (
            ("hold", {"until": "1405/02/05 10:00", "reason": "x", "confirm": "1"}),
            ("hold/lift", {"reason": "x", "confirm": "1"}),
            (f"invoices/{shop.invoice}/void", {"reason": "x", "confirm": "1"}),
            ("plan", {"plan_id": "business", "period": "yearly", "confirm": "1"}),
        ):
            assert support.post(f"{page_of(shop)}/{path}", fields).status_code == 403, path
        app = shop.api.state.context.app
        assert app.get_subscription(shop.subscription).hold is None
        assert app.get_invoice(shop.invoice).void_proposal is None


def test_a_post_without_the_csrf_token_is_refused(shop):
    with office_page(shop) as office:
        answer = office.http.post(
            f"{page_of(shop)}/hold",
            data={"until": "1405/02/05 10:00", "reason": "x", "confirm": "1"},
        )
        assert answer.status_code == 403
        assert shop.api.state.context.app.get_subscription(shop.subscription).hold is None


def test_a_customer_token_and_no_session_open_nothing(shop):
    with served(shop.api, shop.sock) as http:
        nobody = http.get(page_of(shop))
        assert nobody.status_code == 303 and "/office/sign-in" in nobody.headers["location"]
        token = shop.me["Authorization"].removeprefix("Bearer ")
        http.cookies.set("billing_office", token, path="/office")
        assert http.get(page_of(shop)).status_code == 403


def test_hostile_text_in_the_timeline_and_the_hold_is_escaped(shop):
    app = shop.api.state.context.app
    app.place_hold(
        shop.subscription, '<script>alert("x")</script>', T0 + 9 * DAY, T0 + timedelta(hours=1)
    )
    with office_page(shop) as office:
        page = office.get(page_of(shop))
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert" in page.text
        typed = office.get(page_of(shop), params={"at": '"><script>alert(1)</script>'})
        assert "<script>alert" not in typed.text and 'value="&#34;&gt;&lt;script&gt;' in typed.text
