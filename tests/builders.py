"""Small builders for test data: each test says what it needs, nothing is shared by accident."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from domain.customer import BillingProfile
from domain.money import Money
from domain.official import Party, Seller
from domain.plans import LifecyclePolicy, Plan
from service_layer.application import BillingApplication

#: 1405/01/15 09:00 in Tehran: an ordinary day, far from month ends.
T0 = datetime(2026, 4, 4, 5, 30, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def random_ref(prefix: str = "ref") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def in_memory_app() -> BillingApplication:
    return BillingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


#: The portal company as seller of official invoices (a valid economic code and memory ID).
SELLER = Seller(
    Party(
        name="شرکت سامان ۳۶۰",
        economic_code="10380284790",
        national_id="10380284790",
        registration_number="556677",
        postal_code="1193653471",
        address="تهران، خیابان آزادی، پلاک ۱۰",
        phone="02166554433",
    ),
    memory_id="def5gh",
)


def app_with_seller(seller: Seller | None = SELLER) -> BillingApplication:
    """An in-memory application that issues official invoices as ``seller``."""
    return BillingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, seller=seller)


def a_plan(plan_id: str = "basic", monthly_price: int = 1_000_000, **policy: object) -> Plan:
    return Plan(
        id=plan_id,
        name=plan_id.title(),
        monthly_price=Money(monthly_price),
        policy=LifecyclePolicy(**policy),  # type: ignore[arg-type]
    )


def a_person(name: str = "Sara Ahmadi") -> BillingProfile:
    return BillingProfile(name=name, kind="person", email="sara@example.ir", mobile="09121234567")


def a_company(name: str = "Pars Co") -> BillingProfile:
    return BillingProfile(
        name=name,
        kind="legal",
        email="finance@pars.example.ir",
        mobile="09351234567",
        economic_code="411111111111",
        national_id="10380284790",
        registration_number="12345",
        postal_code="1193653471",
        address="Tehran, Valiasr St., No. 1",
    )


def ordered(
    app: BillingApplication,
    *,
    at: datetime = T0,
    plan: Plan | None = None,
    period: str = "monthly",
    customer=None,
):
    """Define the plan (if new), register a customer (if none given) and order a site."""
    plan = plan or a_plan()
    app.define_plan(plan, at)
    customer = customer or app.register_customer(a_person(), at)
    return app.start_subscription(customer, plan.id, period, at)


def run_clock(app: BillingApplication, start: datetime, until: datetime, step: timedelta = HOUR):
    """Advance a simulated clock from ``start`` to ``until`` in steps, as the demo does."""
    now = start
    executed = []
    while now < until:
        now = min(now + step, until)
        executed += app.advance(now, on_time=True)
    return executed


def events_of(app: BillingApplication, subscription_id) -> list[tuple[str, str]]:
    """(aggregate, event) names of a subscription's timeline, in order."""
    from service_layer.timeline import timeline

    return [(e.aggregate, e.event) for e in timeline(app, subscription_id)]


def notices(app: BillingApplication, subscription_id) -> list[str]:
    from service_layer.timeline import timeline

    return [e.data["kind"] for e in timeline(app, subscription_id) if e.event == "NoticeSent"]


def a_pdf_slip(text: str = "bank slip") -> bytes:
    """A real, plain one-page PDF (what a customer's scanner or banking app produces)."""
    import io

    from pypdf import PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=100)
    writer.add_metadata({"/Title": text})
    writer._root_object[NameObject("/Lang")] = TextStringObject("fa")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def a_png_slip(width: int = 40, height: int = 20) -> bytes:
    """A real PNG picture."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 220, 240)).save(out, format="PNG")
    return out.getvalue()


def delivery(channel: str = "sms", recipient: str = "09121234567", **payload):
    """One outbox message (a payment reminder, or the payload given) for a channel to send."""
    from adapters.notify.channels import Delivery  # only the channel tests need the adapters

    return Delivery(
        delivery_id=f"sub/7/{channel}",
        channel=channel,
        kind="payment_reminder",
        subscription_id="5c4c1b6e-0000-4000-8000-000000000001",
        customer_id="c",
        recipient=recipient,
        subject="یادآوری",
        body="متن پیام ۱٬۰۰۰ ریال",
        html="<p dir='rtl'>متن</p>",
        payload=payload or {"action": "suspend", "site": "site-1", "event": "SiteSuspended"},
        attempts=0,
    )
